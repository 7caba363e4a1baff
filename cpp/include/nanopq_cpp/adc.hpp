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

#include "codes.hpp"
#include "common.hpp"
#include "simd/dispatch.hpp"
#include "threading.hpp"

namespace nanopq_cpp {

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
    const auto adist_rows = detail::adist_kernel(active_kernels(), codes);
    parallel_for(n_blocks, threads, [&](std::size_t block) {
        const std::size_t begin = block * kScanBlock, count = (std::min)(kScanBlock, n - begin);
        for (std::size_t q = 0; q < n_queries; ++q)
            adist_rows(tables + q * table_size, n_subspaces, n_codewords, codes + begin * n_subspaces, count,
                       out + q * n + begin);
    });
}

// A candidate of a top-k search. Ordered by distance, then id, so that the
// selected set is unique and the same for any thread count. A NaN key (a table
// holding NaN, or +inf and -inf entries summed) ranks after every number: with
// plain `<` NaN breaks the strict weak order that the heap and std::sort need,
// and std::sort may then read outside the vector.
struct Neighbor {
    float key;  // distance for l2, negated inner product for dot: smaller is better
    std::int64_t id;
    bool operator<(const Neighbor& other) const {
        const bool nan = std::isnan(key), other_nan = std::isnan(other.key);
        if (nan || other_nan) return nan == other_nan ? id < other.id : other_nan;
        return key < other.key || (key == other.key && id < other.id);
    }
};

namespace detail {

// Keeps the k best of `candidates` (a max-heap on the worst kept entry).
inline void keep_best(std::vector<Neighbor>& heap, std::size_t k, const Neighbor& candidate) {
    if (heap.size() < k) {
        heap.push_back(candidate);
        std::push_heap(heap.begin(), heap.end());
    } else if (candidate < heap.front()) {
        std::pop_heap(heap.begin(), heap.end());
        heap.back() = candidate;
        std::push_heap(heap.begin(), heap.end());
    }
}

// A distance as a Neighbor key, and a key back as a distance: negated for
// dot (negation is its own inverse, NaN included, so the round trip is exact).
inline float key_of(Metric metric, float value) { return metric == Metric::dot ? -value : value; }

// Sorts the kept candidates and writes the first k of them as search returns
// them: ids and distances; id -1 and the worst distance (+inf for l2, -inf
// for dot) fill the slots left over. merge_topk (merge.hpp) writes through
// here too, so that merging the results of shards gives exactly what one
// search over all their codes gives.
inline void write_best(std::vector<Neighbor>& kept, std::size_t k, Metric metric, std::int64_t* ids, float* distances) {
    std::sort(kept.begin(), kept.end());
    const float missing = key_of(metric, std::numeric_limits<float>::infinity());
    for (std::size_t j = 0; j < k; ++j) {
        const bool found = j < kept.size();
        ids[j] = found ? kept[j].id : -1;
        distances[j] = found ? key_of(metric, kept[j].key) : missing;
    }
}

// Offers the rows of one block to the heap of the k best: distances[0..count)
// with ids id_of(0..count), keyed by the distance (kNegated: by the negated
// inner product, so that smaller is better for both metrics). Once the heap is
// full, only a key <= the worst kept one can enter (an equal key may win on
// its id), so the table's first_at_most / first_at_least skips to the next
// such row, and only those few reach the heap. A NaN worst key compares false
// with everything, so then every row goes to the heap's own ordering.
template <bool kNegated, class IdOf>
void offer_block(const KernelTable& kernels, const float* distances, std::size_t count, const IdOf& id_of,
                 std::vector<Neighbor>& heap, std::size_t k) {
    const auto key = [&](std::size_t j) { return kNegated ? -distances[j] : distances[j]; };
    std::size_t j = 0;
    for (; j < count && heap.size() < k; ++j) keep_best(heap, k, Neighbor{key(j), id_of(j)});
    while (j < count) {
        const float worst = heap.front().key;
        if (worst == worst) {
            // key <= worst, i.e. distance >= -worst for negated keys.
            j += kNegated ? kernels.first_at_least(distances + j, count - j, -worst)
                          : kernels.first_at_most(distances + j, count - j, worst);
            if (j == count) break;
        }
        keep_best(heap, k, Neighbor{key(j), id_of(j)});
        ++j;
    }
}

}  // namespace detail

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
    if (subset) {
        for (std::size_t j = 0; j < n_subset; ++j)
            if (subset[j] < 0 || static_cast<std::size_t>(subset[j]) >= n)
                throw std::out_of_range("subset[" + std::to_string(j) + "] = " + std::to_string(subset[j]) +
                                        " is not a row of codes (0 <= id < " + std::to_string(n) + ")");
    }
    const std::size_t n_candidates = subset ? n_subset : n;
    const std::size_t n_blocks = std::max<std::size_t>(1, (n_candidates + kScanBlock - 1) / kScanBlock);
    const std::size_t table_size = n_subspaces * n_codewords;
    // One task per (group of queries, range of blocks of codes): every query
    // of the group runs over a block while it sits in cache, and a group's
    // tables (kQueryGroup x M x Ks floats) stay in L2. Each (query, range)
    // keeps one heap across its blocks, so its bound tightens early and few
    // rows reach the heap; a merge per query follows. The k best under
    // Neighbor's total order are one set, so the split, sized to keep every
    // thread busy, cannot change the result.
    constexpr std::size_t kQueryGroup = 16;
    const std::size_t n_groups = std::max<std::size_t>(1, (n_queries + kQueryGroup - 1) / kQueryGroup);
    const int threads = threads_for(n_candidates * n_queries * n_subspaces, std::size_t{1} << 20, num_threads);
    const std::size_t wanted_tasks = threads == 1 ? 1 : 4 * static_cast<std::size_t>(threads);
    const std::size_t n_ranges =
        (std::min)(n_blocks, std::max<std::size_t>(1, (wanted_tasks + n_groups - 1) / n_groups));
    const std::size_t blocks_per_range = (n_blocks + n_ranges - 1) / n_ranges;
    std::vector<std::vector<Neighbor>> partial(n_queries * n_ranges);
    const KernelTable& kernels = active_kernels();
    const auto adist_rows = detail::adist_kernel(kernels, codes);
    parallel_for(n_groups * n_ranges, threads, [&](std::size_t task) {
        const std::size_t group = task / n_ranges, range = task % n_ranges;
        const std::size_t first_query = group * kQueryGroup;
        const std::size_t last_query = (std::min)(n_queries, first_query + kQueryGroup);
        std::vector<code_t> gathered;
        std::vector<float> distances(kScanBlock);
        // A range's heap holds at most its own rows: all ranges' heaps of a
        // query together hold at most min(k * n_ranges, n_candidates).
        const std::size_t range_begin = (std::min)(n_candidates, range * blocks_per_range * kScanBlock);
        const std::size_t range_rows = (std::min)(n_candidates - range_begin, blocks_per_range * kScanBlock);
        for (std::size_t block = range * blocks_per_range; block < (std::min)(n_blocks, (range + 1) * blocks_per_range);
             ++block) {
            const std::size_t begin = block * kScanBlock;
            const std::size_t count = begin < n_candidates ? (std::min)(kScanBlock, n_candidates - begin) : 0;
            const code_t* block_codes = codes + begin * n_subspaces;
            if (subset) {
                // Copy the subset's rows side by side so the scan reads them in order.
                gathered.resize(count * n_subspaces);
                for (std::size_t j = 0; j < count; ++j)
                    std::copy_n(codes + subset[begin + j] * n_subspaces, n_subspaces,
                                gathered.data() + j * n_subspaces);
                block_codes = gathered.data();
            }
            const auto id_of = [&](std::size_t j) {
                return subset ? subset[begin + j] : static_cast<std::int64_t>(begin + j);
            };
            for (std::size_t q = first_query; q < last_query; ++q) {
                adist_rows(tables + q * table_size, n_subspaces, n_codewords, block_codes, count, distances.data());
                std::vector<Neighbor>& heap = partial[q * n_ranges + range];
                heap.reserve((std::min)(k, range_rows));
                if (metric == Metric::l2)
                    detail::offer_block<false>(kernels, distances.data(), count, id_of, heap, k);
                else
                    detail::offer_block<true>(kernels, distances.data(), count, id_of, heap, k);
            }
        }
    });
    for (std::size_t q = 0; q < n_queries; ++q) {
        std::vector<Neighbor> merged;
        for (std::size_t range = 0; range < n_ranges; ++range)
            for (const Neighbor& candidate : partial[q * n_ranges + range]) detail::keep_best(merged, k, candidate);
        detail::write_best(merged, k, metric, out_ids + q * k, out_distances + q * k);
    }
}

}  // namespace nanopq_cpp
