#pragma once
// The search of a residual IVF-PQ index (../ivfpq.hpp): each list holds the
// PQ codes of its vectors' residuals to the list's coarse centroid, with the
// vectors' ids.
//
// A query ranks the coarse centroids by l2 distance (or inner product, for
// Metric::dot), probes the `nprobe` best, and returns the exact top-k of the
// ADC distances over their codes. The distance of a code in list l is the
// numpy-order sum of the table of list l:
//   l2:  nanopq's table of the residual query q - c_l (DistanceTable(q - c_l)),
//   dot: q's table with q.c_l added to row 0's entries (q.x = q.c_l + q.r),
// or q's own table for an index without residuals. Lists of Ks or more codes
// go through the fast scan with the rounding bound of fast_scan.hpp (each
// list's table quantized in turn, its levels spanning only keys the k-th
// best so far allows); the rest are read exactly. Both give the same result.
//
// Internal: trusts its callers (the index that owns the lists).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#if defined(_MSC_VER) && !defined(__clang__) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#endif

#include "../common.hpp"
#include "inverted_lists.hpp"
#include "pq.hpp"
#include "threading.hpp"
#include "top_k.hpp"

namespace nanopq_cpp::impl {

// A list of ids; its codes are packed (Ks <= 256) or, for wider codes,
// row-major in `blocks`, code_bytes a value.
using IdList = PostingListOf<std::int64_t>;

// An IVF-PQ index as the search reads it.
struct IvfView {
    std::size_t n_subspaces = 0, n_codewords = 0, code_bytes = 1, dim = 0;
    Metric metric = Metric::l2;
    bool by_residual = true;
    const CoarseCenters* coarse = nullptr;
    const float* centroids = nullptr;  // [n_lists][dim]
    const IdList* lists = nullptr;
    std::size_t n_lists = 0;
    const TableMaker* maker = nullptr;
};

// Ids a search may return: all, or those of a sorted subset.
struct IdFilter {
    const std::int64_t* sorted = nullptr;  // null: every id
    std::size_t n = 0;
    bool operator()(std::int64_t id) const { return !sorted || std::binary_search(sorted, sorted + n, id); }
};

// Buffers of one thread's queries, past those of the list scan.
struct IvfScanBuffers : ListScanBuffers {
    std::vector<float> residual, base_row;
};

// Exact distances of the wide (uint16 or uint32) codes of `list`, offered to `top`.
template <class code_t>
void offer_plain(const KernelTable& kernels, const float* table, std::size_t M, std::size_t Ks, Metric metric,
                 const IdList& list, const IdFilter& wanted, std::vector<float>& distances, TopK& top) {
    const std::size_t n = list.rows.size(), chunk = 256;
    distances.resize(chunk);
    // Copied out of the byte store: reading it through a code_t pointer would break aliasing rules.
    std::vector<code_t> codes(chunk * M);
    for (std::size_t first = 0; first < n; first += chunk) {
        const std::size_t count = (std::min)(chunk, n - first);
        std::memcpy(codes.data(), list.blocks.data() + first * M * sizeof(code_t), count * M * sizeof(code_t));
        adist_kernel(kernels, codes.data())(table, M, Ks, codes.data(), count, distances.data());
        for (std::size_t j = 0; j < count; ++j) {
            const float key = key_of(metric, distances[j]);
            if (top.full() && top.bound() < key) continue;
            const std::int64_t id = list.rows[first + j];
            if (wanted(id)) top.offer(Neighbor{key, id});
        }
    }
}

// The scan of one packed list with `table` into `top`. `quantized` holds the
// table's fast-scan form when `current` is true (a query's lists share one
// table without residuals); it is made here, and `current` set, when needed.
template <class Layout>
void scan_id_list(Layout layout, const KernelTable& kernels, const float* table, const IvfView& view,
                  const IdList& list, const IdFilter& wanted, bool& current, QuantizedTable& quantized,
                  IvfScanBuffers& buffers, TopK& top) {
    const std::size_t M = view.n_subspaces, Ks = view.n_codewords, n = list.rows.size();
    const auto offer = [&](std::size_t first, std::size_t count) {
        offer_places(layout, table, M, Ks, view.metric, list, first, count, wanted, buffers, top);
    };
    // Quantizing a table costs about as much as Ks rows read exactly.
    if (n < fast_scan_min_rows(Ks) || !has_fast_scan(kernels, Ks)) return offer(0, n);
    std::size_t done = 0;
    if (!top.full()) {
        // The first rows, read exactly, give the levels a reach (quantize_table).
        done = (std::min)(n, (std::max)(top.capacity(), kExactStartRows));
        offer(0, done);
        current = false;  // a tighter reach is known now
    }
    if (!current) {
        buffers.lut.resize(Layout::lut_bytes(M));
        quantized = quantize_table(layout, table, M, Ks, view.metric, buffers.lut.data(), top.bound());
        current = true;
    }
    if (!quantized.fast) return offer(done, n - done);
    scan_blocks(layout, kernels, list, n, done, M, quantized, top, buffers,
                [&](std::size_t place) { offer(place, 1); });
}

// The lists a query probes, best first, into buffers.order (Neighbor order:
// ties to the lower list), with each list's key in buffers.coarse.
inline void probe_order(const KernelTable& kernels, const IvfView& view, const float* query, std::size_t nprobe,
                        IvfScanBuffers& buffers) {
    buffers.coarse.resize(view.n_lists);
    coarse_keys(kernels, *view.coarse, view.n_lists, query, view.metric, buffers.coarse.data());
    if (least_keys(buffers.coarse.data(), view.n_lists, nprobe, buffers.order)) return;
    buffers.order.resize(view.n_lists);  // a NaN key: sort all, NaN last
    for (std::size_t l = 0; l < view.n_lists; ++l)
        buffers.order[l] = Neighbor{buffers.coarse[l], static_cast<std::int64_t>(l)};
    std::sort(buffers.order.begin(), buffers.order.end());
    buffers.order.resize(nprobe);
}

// Bytes of a list asked ahead of its scan: lists are laid out apart, so the
// hardware prefetcher finds each one anew; asked for while the list before
// is scanned, they arrive during the table work in between (nprobe 16 on
// 1M image patches: 15% faster). Capped, so a huge list does not flush the cache.
inline constexpr std::size_t kPrefetchListBytes = 256 * 1024;

// Asks for the cache line at `address`, without waiting for it.
inline void prefetch_line(const void* address) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(address);
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    _mm_prefetch(static_cast<const char*>(address), _MM_HINT_T0);
#else
    (void)address;
#endif
}

inline void prefetch_list(const IdList& list) {
    const std::size_t bytes = (std::min)(list.blocks.size(), kPrefetchListBytes);
    for (std::size_t at = 0; at < bytes; at += 64) prefetch_line(list.blocks.data() + at);
}

// One query's top-k over its nprobe lists into `top`; q names the query in errors.
inline void search_one(const KernelTable& kernels, const IvfView& view, const float* query, std::size_t q,
                       std::size_t nprobe, const IdFilter& wanted, IvfScanBuffers& buffers, TopK& top) {
    const std::size_t M = view.n_subspaces, Ks = view.n_codewords, table_size = M * Ks, D = view.dim;
    probe_order(kernels, view, query, nprobe, buffers);
    buffers.table.resize(table_size);
    float* table = buffers.table.data();
    // Without residuals, and for inner products, rows 1.. are q's own table.
    const bool shared_rows = !view.by_residual || view.metric == Metric::dot;
    if (shared_rows) {
        make_checked_table(kernels, *view.maker, query, q, table);
        buffers.base_row.assign(table, table + Ks);
    }
    QuantizedTable quantized;
    bool current = false;  // `quantized` is of `table`
    for (const Neighbor& probe : buffers.order) {
        const std::size_t l = static_cast<std::size_t>(probe.id);
        const IdList& list = view.lists[l];
        if (&probe == &buffers.order.front()) prefetch_list(list);
        if (&probe + 1 != buffers.order.data() + buffers.order.size())
            prefetch_list(view.lists[static_cast<std::size_t>((&probe + 1)->id)]);
        if (list.rows.empty()) continue;
        if (view.by_residual && view.metric == Metric::l2) {
            buffers.residual.resize(D);
            const float* centroid = view.centroids + l * D;
            for (std::size_t d = 0; d < D; ++d) buffers.residual[d] = query[d] - centroid[d];
            make_checked_table(kernels, *view.maker, buffers.residual.data(), q, table);
            current = false;
        } else if (view.by_residual) {
            // The coarse key of an inner product is -(q.c_l), to the bit.
            const float offset = -buffers.coarse[l];
            for (std::size_t k = 0; k < Ks; ++k) table[k] = buffers.base_row[k] + offset;
            require_finite_table(table, Ks, q);
            current = false;
        }
        if (view.code_bytes == 1) {
            with_layout(Ks, [&](auto layout) {
                scan_id_list(layout, kernels, table, view, list, wanted, current, quantized, buffers, top);
            });
        } else if (view.code_bytes == 2) {
            offer_plain<std::uint16_t>(kernels, table, M, Ks, view.metric, list, wanted, buffers.distances, top);
        } else {
            offer_plain<std::uint32_t>(kernels, table, M, Ks, view.metric, list, wanted, buffers.distances, top);
        }
    }
}

// The top-k ids of each query ([n_queries][dim]) over its nprobe nearest
// lists, best first (-1 in an empty slot). Each query is searched by one
// thread: results do not depend on the thread count.
inline void search_ivf(const IvfView& view, const float* queries, std::size_t n_queries, std::size_t k,
                       std::size_t nprobe, const IdFilter& wanted, std::int64_t* out_ids, float* out_distances,
                       int num_threads) {
    const KernelTable& kernels = active_kernels();
    const std::size_t n_tasks = (n_queries + kListQueriesPerTask - 1) / kListQueriesPerTask;
    const std::size_t work = n_queries * (view.n_lists * view.dim + nprobe * view.n_subspaces * view.n_codewords);
    const int threads = threads_for(work, std::size_t{1} << 18, num_threads);
    parallel_for(n_tasks, threads, [&](std::size_t task) {
        IvfScanBuffers buffers;
        TopK top(k);
        const std::size_t end = (std::min)(n_queries, (task + 1) * kListQueriesPerTask);
        for (std::size_t q = task * kListQueriesPerTask; q < end; ++q) {
            top.clear();
            search_one(kernels, view, queries + q * view.dim, q, nprobe, wanted, buffers, top);
            top.write(view.metric, out_ids + q * k, out_distances + q * k);
        }
    });
}

}  // namespace nanopq_cpp::impl
