#pragma once
// The one top-k collector every scan feeds: the flat scan (adc.hpp), the
// packed scan, its fast and exact paths (fast_scan.hpp) and the merge of
// shards' results (merge.hpp). Keys carry the metric's sign, ties go to the
// lower id, NaN ranks last; so the k kept are one set, whatever the order
// candidates arrive in, and splitting a scan into tasks (any thread count)
// cannot change the result.
//
// TopK is internal: its callers own their arguments and it trusts
// them (k > 0, ids as given). Neighbor (a candidate) and SearchResult (what a
// search returns to C++ callers) are public.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common.hpp"
#include "simd/dispatch.hpp"

namespace nanopq_cpp::impl {

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

// A distance as a Neighbor key, and a key back as a distance: negated for
// dot (negation is its own inverse, NaN included, so the round trip is exact).
inline float key_of(Metric metric, float value) { return metric == Metric::dot ? -value : value; }

// Throws std::out_of_range naming the first of `n_subset` row ids that is not
// a row of `n_rows` codes: the one check of a search's subset.
inline void check_subset(const std::int64_t* subset, std::size_t n_subset, std::size_t n_rows) {
    for (std::size_t j = 0; j < n_subset; ++j)
        if (subset[j] < 0 || static_cast<std::size_t>(subset[j]) >= n_rows)
            throw std::out_of_range("subset[" + std::to_string(j) + "] = " + std::to_string(subset[j]) +
                                    " is not a row of codes (0 <= id < " + std::to_string(n_rows) + ")");
}

// The k best candidates of one query seen so far: a max-heap on the worst
// kept one, which is the bound a new candidate must reach.
class TopK {
public:
    explicit TopK(std::size_t k = 0) : k_(k) {}

    // Room for the candidates this collector can keep out of `n_candidates`.
    void reserve_for(std::size_t n_candidates) { heap_.reserve((std::min)(k_, n_candidates)); }
    bool full() const { return heap_.size() == k_; }
    // k: the candidates kept once full.
    std::size_t capacity() const { return k_; }
    // Empties the collector for another query, keeping its memory.
    void clear() { heap_.clear(); }
    // The worst key kept once full (+inf before): a candidate with a larger
    // key cannot enter; an equal one can, on a lower id.
    float bound() const { return full() ? heap_.front().key : std::numeric_limits<float>::infinity(); }
    const std::vector<Neighbor>& candidates() const { return heap_; }

    void offer(const Neighbor& candidate) {
        if (heap_.size() < k_) {
            heap_.push_back(candidate);
            std::push_heap(heap_.begin(), heap_.end());
        } else if (candidate < heap_.front()) {
            replace_worst(candidate);
        }
    }

    // Offers `count` distances with ids id_of(0..count). Once full, only a
    // key <= the bound can enter, so the table's first_at_most (first_at_least
    // for dot's negated keys) skips to the next such row in SIMD, and only
    // those few reach the heap. A NaN bound compares false with everything:
    // then every row goes to the heap's own ordering.
    template <class IdOf>
    void offer_distances(const KernelTable& kernels, Metric metric, const float* distances, std::size_t count,
                         const IdOf& id_of) {
        if (metric == Metric::dot)
            offer_keyed<true>(kernels, distances, count, id_of);
        else
            offer_keyed<false>(kernels, distances, count, id_of);
    }

    // Offers every candidate another collector kept (a task's share of rows).
    void offer_all(const TopK& other) {
        for (const Neighbor& candidate : other.heap_) offer(candidate);
    }

    // Writes the k slots of the result, best first, as distances: id -1 and
    // the worst distance (+inf for l2, -inf for dot) fill the slots left over.
    // Sorts the kept candidates, so nothing may be offered after.
    void write(Metric metric, std::int64_t* ids, float* distances) {
        std::sort(heap_.begin(), heap_.end());
        const float missing = key_of(metric, std::numeric_limits<float>::infinity());
        for (std::size_t j = 0; j < k_; ++j) {
            const bool found = j < heap_.size();
            ids[j] = found ? heap_[j].id : -1;
            distances[j] = found ? key_of(metric, heap_[j].key) : missing;
        }
    }

private:
    // Puts `candidate` where the worst kept was and sifts it down to its
    // place: one pass down the heap, where pop_heap then push_heap take two
    // (a scan's exact start replaces the worst about 30 times for k = 10).
    void replace_worst(const Neighbor& candidate) {
        const std::size_t n = heap_.size();
        std::size_t hole = 0;
        for (std::size_t child = 1; child < n; child = 2 * hole + 1) {
            if (child + 1 < n && heap_[child] < heap_[child + 1]) ++child;
            if (!(candidate < heap_[child])) break;
            heap_[hole] = heap_[child];
            hole = child;
        }
        heap_[hole] = candidate;
    }

    template <bool kNegated, class IdOf>
    void offer_keyed(const KernelTable& kernels, const float* distances, std::size_t count, const IdOf& id_of) {
        const auto key = [&](std::size_t j) { return kNegated ? -distances[j] : distances[j]; };
        std::size_t j = 0;
        for (; j < count && heap_.size() < k_; ++j) offer(Neighbor{key(j), id_of(j)});
        while (j < count) {
            const float worst = heap_.front().key;
            if (worst == worst) {
                // key <= worst, i.e. distance >= -worst for negated keys.
                j += kNegated ? kernels.first_at_least(distances + j, count - j, -worst)
                              : kernels.first_at_most(distances + j, count - j, worst);
                if (j == count) break;
            }
            offer(Neighbor{key(j), id_of(j)});
            ++j;
        }
    }

    std::size_t k_;
    std::vector<Neighbor> heap_;
};

// Merges collectors[i * n_parts + part] over the parts for each listed query
// i and writes query queries[i]'s k slots ([q][k] outputs).
inline void write_merged(std::vector<TopK>& collectors, std::size_t n_parts, const std::size_t* queries,
                         std::size_t n_queries, std::size_t k, Metric metric, std::int64_t* out_ids,
                         float* out_distances) {
    for (std::size_t i = 0; i < n_queries; ++i) {
        TopK* merged = &collectors[i * n_parts];
        TopK combined(k);
        if (n_parts > 1) {
            for (std::size_t part = 0; part < n_parts; ++part) combined.offer_all(collectors[i * n_parts + part]);
            merged = &combined;
        }
        const std::size_t q = queries ? queries[i] : i;
        merged->write(metric, out_ids + q * k, out_distances + q * k);
    }
}

}  // namespace nanopq_cpp::impl
