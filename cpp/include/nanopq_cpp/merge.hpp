#pragma once
/// @file
/// Merging top-k results: codes split into shards (on several machines, in
/// several files) are searched shard by shard, and the shards' answers are
/// merged into the answer one search over all the codes gives.
///
/// Exact, not approximate: the top-k of all rows is in the union of each
/// shard's top-k (a row beaten by k rows of its own shard is beaten overall),
/// and the merge keeps the k best of that union in the order search uses
/// (Neighbor: distance, then id; NaN last), so ids, distances, ties and the
/// -1 padding come out as one search gives them.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "common.hpp"
#include "impl/threading.hpp"
#include "impl/top_k.hpp"

namespace nanopq_cpp {

/// One shard's answer for n_queries queries, laid out as search writes it:
/// row-major [q][j], `k` slots per query, best first or in any order. Ids are
/// global row ids (the shard's own ids plus the row where the shard starts);
/// -1 marks an empty slot, whose distance is ignored. k may be 0.
struct ShardTopk {
    /// Row ids, [n_queries][k] row-major, best first; -1 in an empty slot.
    const std::int64_t* ids = nullptr;
    /// Their distances; +inf (l2) or -inf (dot) in an empty slot.
    const float* distances = nullptr;
    /// Slots a query.
    std::size_t k = 0;
};

/// Writes the k best candidates of all shards for each query, best first, to
/// out_ids and out_distances ([n_queries][k]). The result equals search's over
/// the shards' codes put together, with the same tables and metric, when
///  - the shards hold disjoint rows and their ids are global,
///  - each shard held its rows in the order of their ids (search breaks ties
///    by position, which must then agree with the ids), and
///  - each shard was searched with topk >= k (or topk >= its number of rows).
/// Slots no candidate fills get id -1 and +inf (l2) or -inf (dot), as in search.
/// Results do not depend on num_threads (0: the global setting).
inline void merge_topk(const ShardTopk* shards, std::size_t n_shards, std::size_t n_queries, std::size_t k,
                       Metric metric, std::int64_t* out_ids, float* out_distances, int num_threads = 0) {
    require(k > 0, "topk must be positive");
    require(n_shards == 0 || shards, "merge_topk needs the shards' results");
    require(n_queries == 0 || (out_ids && out_distances), "merge_topk needs output buffers");
    std::size_t n_candidates = 0;  // per query
    for (std::size_t s = 0; s < n_shards; ++s) {
        const ShardTopk& shard = shards[s];
        if (n_queries == 0 || shard.k == 0) continue;
        require(shard.ids && shard.distances, "shard " + std::to_string(s) + " has no ids or distances buffer");
        const std::size_t n_slots = checked_product(n_queries, shard.k, "a shard's results");
        // An id below -1 is neither a row nor an empty slot: most likely a
        // shard's -1 padding shifted by the shard's first row.
        for (std::size_t i = 0; i < n_slots; ++i)
            if (shard.ids[i] < -1)
                throw std::invalid_argument("ids of shard " + std::to_string(s) + " hold " +
                                            std::to_string(shard.ids[i]) + " at [" + std::to_string(i / shard.k) +
                                            ", " + std::to_string(i % shard.k) +
                                            "]; ids must be row ids (>= 0) or -1 for an empty slot");
        n_candidates += shard.k;
    }
    // Queries per task: enough candidates per task to outweigh handing it out.
    constexpr std::size_t kQueriesPerTask = 64;
    const std::size_t n_tasks = (n_queries + kQueriesPerTask - 1) / kQueriesPerTask;
    const int threads = impl::threads_for(checked_product(n_queries, n_candidates + 1, "merge_topk's candidates"),
                                          std::size_t{1} << 18, num_threads);
    impl::parallel_for(n_tasks, threads, [&](std::size_t task) {
        const std::size_t first_query = task * kQueriesPerTask;
        const std::size_t last_query = (std::min)(n_queries, first_query + kQueriesPerTask);
        for (std::size_t q = first_query; q < last_query; ++q) {
            impl::TopK kept(k);
            kept.reserve_for(n_candidates);
            for (std::size_t s = 0; s < n_shards; ++s) {
                const ShardTopk& shard = shards[s];
                for (std::size_t j = q * shard.k; j < (q + 1) * shard.k; ++j)
                    if (shard.ids[j] != -1)
                        kept.offer(impl::Neighbor{impl::key_of(metric, shard.distances[j]), shard.ids[j]});
            }
            kept.write(metric, out_ids + q * k, out_distances + q * k);
        }
    });
}

/// The same for SearchResults (from DistanceTables::search or
/// ProductQuantizer::search on each shard, their ids made global first).
inline SearchResult merge_topk(const std::vector<SearchResult>& shards, std::size_t k, Metric metric,
                               int num_threads = 0) {
    require(!shards.empty(), "merge_topk needs at least one shard's result");
    const std::size_t n_queries = shards.front().n_queries;
    std::vector<ShardTopk> views;
    views.reserve(shards.size());
    for (std::size_t s = 0; s < shards.size(); ++s) {
        const SearchResult& shard = shards[s];
        const std::string name = "shard " + std::to_string(s);
        require(shard.n_queries == n_queries, name + " answers " + std::to_string(shard.n_queries) +
                                                  " queries but shard 0 answers " + std::to_string(n_queries));
        const std::size_t n_slots = checked_product(n_queries, shard.k, "a shard's results");
        require(shard.ids.size() == n_slots && shard.distances.size() == n_slots,
                name + " must hold n_queries x k = " + std::to_string(n_slots) + " ids and distances, not " +
                    std::to_string(shard.ids.size()) + " and " + std::to_string(shard.distances.size()));
        views.push_back(ShardTopk{shard.ids.data(), shard.distances.data(), shard.k});
    }
    SearchResult result;
    result.n_queries = n_queries;
    result.k = k;
    result.ids.resize(checked_product(n_queries, k, "merged results"));
    result.distances.resize(result.ids.size());
    merge_topk(views.data(), views.size(), n_queries, k, metric, result.ids.data(), result.distances.data(),
               num_threads);
    return result;
}

}  // namespace nanopq_cpp
