#pragma once
// Asymmetric distance computation (ADC): distances from a query, held as a
// distance table, to encoded vectors, and the top-k of them.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../codes.hpp"
#include "../common.hpp"
#include "simd/dispatch.hpp"
#include "threading.hpp"
#include "top_k.hpp"

namespace nanopq_cpp::impl {

// Codes per task of a scan: a multiple of cache lines of codes, and a fixed
// split, so results do not depend on the thread count.
inline constexpr std::size_t kScanBlock = 4096;

// Distances from n_queries tables ([q][M][Ks]) to n codes ([n][M]): out[q][i].
template <class code_t>
void adist(const float* tables, std::size_t n_queries, std::size_t n_subspaces, std::size_t n_codewords,
           const code_t* codes, std::size_t n, float* out, int num_threads = 0) {
    require(n_subspaces > 0 && n_codewords > 0, "the distance table must have M > 0 rows and Ks > 0 columns");
    require(n == 0 || n_queries == 0 || (tables && codes && out), "adist needs input and output buffers");
    check_codes(codes, n, n_subspaces, n_codewords);
    const std::size_t n_blocks = (n + kScanBlock - 1) / kScanBlock;
    const std::size_t table_size = n_subspaces * n_codewords;
    // Table look-ups per thread: about a quarter of a millisecond of work, so
    // small scans stay on one thread.
    const int threads = threads_for(n * n_queries * n_subspaces, std::size_t{1} << 20, num_threads);
    const auto adist_rows = adist_kernel(active_kernels(), codes);
    parallel_for(n_blocks, threads, [&](std::size_t block) {
        const std::size_t begin = block * kScanBlock, count = (std::min)(kScanBlock, n - begin);
        for (std::size_t q = 0; q < n_queries; ++q)
            adist_rows(tables + q * table_size, n_subspaces, n_codewords, codes + begin * n_subspaces, count,
                       out + q * n + begin);
    });
}

// The exact top-k scan, the engine of search() and of the packed exact scan
// (fast_scan.hpp): for the queries listed (`queries`, or all n_queries in
// order when null) over n_candidates rows, where rows(begin, count, buffer)
// gives the codes ([count][M]) of candidates begin.. (in place, or gathered
// or unpacked into buffer) and a candidate's id is subset[j], or j without a
// subset. Trusts its callers: shapes and codes are checked.
//
// One task per (group of queries, range of blocks of rows): every query of
// the group runs over a block while it sits in cache, and a group's tables
// (query_group x M x Ks floats; 16 by default) stay in L2. A row source that
// costs more than a read (unpacking) takes one group of all the queries, so
// each block is made once. Each (query, range) keeps one heap
// across its blocks, so its bound tightens early and few rows reach the
// heap; a merge per query follows. The k best under Neighbor's total order
// are one set, so the split, sized to keep every thread busy, cannot change
// the result.
template <class code_t, class Rows>
void exact_top_k(const float* tables, const std::size_t* queries, std::size_t n_queries, std::size_t n_subspaces,
                 std::size_t n_codewords, std::size_t n_candidates, const Rows& rows, const std::int64_t* subset,
                 std::size_t k, Metric metric, std::int64_t* out_ids, float* out_distances, int num_threads,
                 std::size_t query_group = 16) {
    const std::size_t n_blocks = std::max<std::size_t>(1, (n_candidates + kScanBlock - 1) / kScanBlock);
    const std::size_t table_size = n_subspaces * n_codewords;
    query_group = std::max<std::size_t>(1, query_group);
    const std::size_t n_groups = std::max<std::size_t>(1, (n_queries + query_group - 1) / query_group);
    const int threads = threads_for(n_candidates * n_queries * n_subspaces, std::size_t{1} << 20, num_threads);
    const std::size_t wanted_tasks = threads == 1 ? 1 : 4 * static_cast<std::size_t>(threads);
    const std::size_t n_ranges =
        (std::min)(n_blocks, std::max<std::size_t>(1, (wanted_tasks + n_groups - 1) / n_groups));
    const std::size_t blocks_per_range = (n_blocks + n_ranges - 1) / n_ranges;
    std::vector<TopK> partial(n_queries * n_ranges, TopK(k));
    const KernelTable& kernels = active_kernels();
    const auto adist_rows = adist_kernel(kernels, static_cast<const code_t*>(nullptr));
    parallel_for(n_groups * n_ranges, threads, [&](std::size_t task) {
        const std::size_t group = task / n_ranges, range = task % n_ranges;
        const std::size_t first_query = group * query_group;
        const std::size_t last_query = (std::min)(n_queries, first_query + query_group);
        std::vector<code_t> buffer;
        std::vector<float> distances(kScanBlock);
        // A range's heap holds at most its own rows: all ranges' heaps of a
        // query together hold at most min(k * n_ranges, n_candidates).
        const std::size_t range_begin = (std::min)(n_candidates, range * blocks_per_range * kScanBlock);
        const std::size_t range_rows = (std::min)(n_candidates - range_begin, blocks_per_range * kScanBlock);
        for (std::size_t block = range * blocks_per_range; block < (std::min)(n_blocks, (range + 1) * blocks_per_range);
             ++block) {
            const std::size_t begin = block * kScanBlock;
            const std::size_t count = begin < n_candidates ? (std::min)(kScanBlock, n_candidates - begin) : 0;
            const code_t* block_codes = rows(begin, count, buffer);
            const auto id_of = [&](std::size_t j) {
                return subset ? subset[begin + j] : static_cast<std::int64_t>(begin + j);
            };
            for (std::size_t q = first_query; q < last_query; ++q) {
                adist_rows(tables + (queries ? queries[q] : q) * table_size, n_subspaces, n_codewords, block_codes,
                           count, distances.data());
                TopK& top = partial[q * n_ranges + range];
                top.reserve_for(range_rows);
                top.offer_distances(kernels, metric, distances.data(), count, id_of);
            }
        }
    });
    write_merged(partial, n_ranges, queries, n_queries, k, metric, out_ids, out_distances);
}

// Top-k search over codes: for each query, the k rows with the smallest l2 or
// largest inner-product ADC distance, best first. `subset` (optional, n_subset
// row ids into codes) restricts the search to those rows. Missing slots (fewer
// than k candidates) get id -1 and distance +inf (l2) or -inf (dot).
template <class code_t>
void search(const float* tables, std::size_t n_queries, std::size_t n_subspaces, std::size_t n_codewords,
            const code_t* codes, std::size_t n, std::size_t k, Metric metric, const std::int64_t* subset,
            std::size_t n_subset, std::int64_t* out_ids, float* out_distances, int num_threads = 0) {
    require(n_subspaces > 0 && n_codewords > 0, "the distance table must have M > 0 rows and Ks > 0 columns");
    require(k > 0, "topk must be positive");
    check_codes(codes, n, n_subspaces, n_codewords);
    if (subset) check_subset(subset, n_subset, n);
    const auto rows = [&](std::size_t begin, std::size_t count, std::vector<code_t>& gathered) {
        if (!subset) return codes + begin * n_subspaces;
        // Copy the subset's rows side by side so the scan reads them in order.
        gathered.resize(count * n_subspaces);
        for (std::size_t j = 0; j < count; ++j)
            std::copy_n(codes + subset[begin + j] * n_subspaces, n_subspaces, gathered.data() + j * n_subspaces);
        return static_cast<const code_t*>(gathered.data());
    };
    exact_top_k<code_t>(tables, nullptr, n_queries, n_subspaces, n_codewords, subset ? n_subset : n, rows, subset, k,
                        metric, out_ids, out_distances, num_threads);
}

}  // namespace nanopq_cpp::impl
