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
// A query's nearest list is read exactly until its top k is full (its first
// rows), then scanned with levels from its table (quantize_l2_table). Past
// it, an l2 list's levels come straight from the codewords (fast_scan.hpp
// direct_levels), and its table is made only when rows pass (the first few
// are read from the codewords too): most probes past the nearest pass none.
//
// Internal: trusts its callers (the index that owns the lists).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
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

// During a scan an entry is named by its place, list << 32 | place, and its
// id read only for the k kept at the end (place_ids): a list's ids lie apart
// from its codes, and reading one for each entry that enters the top k was a
// cache miss each. Ties go to the lower list, then the lower place.
inline constexpr unsigned kPlaceBits = 32;

// Names the places of list `list_no` for offer_places, keeping those of `wanted`.
struct PlaceNamer {
    std::size_t list_no;
    const IdFilter* wanted;
    bool operator()(const PostingListOf<std::int64_t>& list, std::size_t place, std::int64_t& named) const {
        named = static_cast<std::int64_t>((static_cast<std::uint64_t>(list_no) << kPlaceBits) | place);
        return !wanted->sorted || (*wanted)(list.rows[place]);
    }
};

// Buffers of one thread's queries, past those of the list scan.
struct IvfScanBuffers : ListScanBuffers {
    std::vector<float> residual, base_row;
};

// Exact distances of the wide (uint16 or uint32) codes of `list`, offered to `top`.
template <class code_t>
void offer_plain(const KernelTable& kernels, const float* table, std::size_t M, std::size_t Ks, Metric metric,
                 const IdList& list, const PlaceNamer& name, std::vector<float>& distances, TopK& top) {
    const std::size_t n = list.rows.size(), chunk = 256;
    distances.resize(chunk);
    // Copied out of the byte store: reading it through a code_t pointer would break aliasing rules.
    std::vector<code_t> codes(chunk * M);
    for (std::size_t first = 0; first < n; first += chunk) {
        const std::size_t count = (std::min)(chunk, n - first);
        std::memcpy(codes.data(), list.blocks.data() + first * M * sizeof(code_t), count * M * sizeof(code_t));
        adist_kernel(kernels, codes.data())(table, M, Ks, codes.data(), count, distances.data());
        offer_named(metric, list, first, count, distances.data(), name, top);
    }
}

// True when a residual l2 list's levels can come straight from the
// codewords (direct_levels): the exact table is then made only if a row
// passes, which most probes past a query's nearest list never see (on 1M
// image patches, PQ32x8: 55% of them at nprobe 5, 80% at nprobe 16).
inline bool levels_from_codewords(const IvfView& view) {
    return view.by_residual && view.metric == Metric::l2 && view.maker->has_columns();
}

// The fast-scan levels of the table of `residual` into `lut`, made from
// the codewords for the key `reach` that k rows reach (direct_levels):
// `fast` false when they cannot be (reach not finite and > 0, or a table
// that could overflow); the caller then makes the table and reads it as before.
template <class Layout>
QuantizedTable quantize_residual(Layout layout, const KernelTable& kernels, const IvfView& view, const float* residual,
                                 float reach, std::uint8_t* lut) {
    const DirectLevels levels = direct_levels(layout, view.n_subspaces, reach);
    if (!levels.usable() || !view.maker->make_levels<Layout>(kernels, residual, levels.scale, levels.top, lut))
        return QuantizedTable{};
    return direct_table(view.n_subspaces, levels);
}

// The scan of one packed list with `table` into `top`. `quantized` holds the
// table's fast-scan form when `current` is true (a query's lists share one
// table without residuals); it is made here, and `current` set, when needed.
template <class Layout>
void scan_id_list(Layout layout, const KernelTable& kernels, const float* table, const IvfView& view,
                  const IdList& list, const PlaceNamer& name, bool& current, QuantizedTable& quantized,
                  IvfScanBuffers& buffers, TopK& top) {
    const std::size_t M = view.n_subspaces, Ks = view.n_codewords, n = list.rows.size();
    const auto offer = [&](std::size_t first, std::size_t count) {
        offer_places(layout, table, M, Ks, view.metric, list, first, count, name, buffers, top);
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
        // An l2 table's levels come in one pass from its entries, once k
        // rows give a reach; reading the table keeps it in cache for the
        // rows that pass, where levels from the codewords streamed 64 KB.
        quantized = view.metric == Metric::l2 && top.full()
                        ? quantize_l2_table(layout, kernels, table, M, Ks, top.bound(), buffers.lut.data())
                        : QuantizedTable{};
        if (!quantized.fast)
            quantized = quantize_table(layout, table, M, Ks, view.metric, buffers.lut.data(), top.bound());
        current = true;
    }
    if (!quantized.fast) return offer(done, n - done);
    scan_blocks(layout, kernels, list, n, done, M, quantized, top, buffers,
                [&](const std::size_t* passed, std::size_t count) {
                    offer_places_at(layout, table, M, Ks, view.metric, list, passed, count, name, buffers, top);
                });
}

// The lists a query probes, best first, into buffers.order (Neighbor order:
// ties to the lower list), with each list's key in buffers.coarse.
// `keys`, when given, are the query's keys already (coarse_keys_of_group).
inline void probe_order(const KernelTable& kernels, const IvfView& view, const float* query, std::size_t nprobe,
                        IvfScanBuffers& buffers, const float* keys = nullptr) {
    buffers.coarse.resize(view.n_lists);
    if (keys)
        std::copy_n(keys, view.n_lists, buffers.coarse.begin());
    else
        coarse_keys(kernels, *view.coarse, view.n_lists, query, view.metric, buffers.coarse.data());
    if (least_keys(buffers.coarse.data(), view.n_lists, nprobe, buffers.order)) return;
    all_by_key(buffers.coarse.data(), view.n_lists, buffers.order);
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

// The residual of query ([dim]) to the centroid of list l, into `residual`.
inline void residual_to(const IvfView& view, const float* query, std::size_t l, float* residual) {
    const float* centroid = view.centroids + l * view.dim;
    for (std::size_t d = 0; d < view.dim; ++d) residual[d] = query[d] - centroid[d];
}

// The table of query q ([dim]) for list l into `table` ([M][Ks]): its
// residual's (l2), or its own with q.c_l added to row 0 (dot; `list_key`
// is the list's coarse key, -(q.c_l) to the bit). For dot, rows 1.. of
// `table` and buffers.base_row (row 0) must hold the query's own table when
// `base_ready`; they are made here otherwise.
inline void make_list_table(const KernelTable& kernels, const IvfView& view, const float* query, std::size_t q,
                            std::size_t l, float list_key, bool base_ready, IvfScanBuffers& buffers, float* table) {
    const std::size_t Ks = view.n_codewords, D = view.dim;
    if (view.metric == Metric::l2) {
        buffers.residual.resize(D);
        residual_to(view, query, l, buffers.residual.data());
        make_checked_table(kernels, *view.maker, buffers.residual.data(), q, table);
        return;
    }
    if (!base_ready) {
        make_checked_table(kernels, *view.maker, query, q, table);
        buffers.base_row.assign(table, table + Ks);
    }
    const float offset = -list_key;
    for (std::size_t k = 0; k < Ks; ++k) table[k] = buffers.base_row[k] + offset;
    require_finite_table(table, Ks, q);
}

// Passing rows of a probe read from the codewords (ProbeRescorer) before
// its table is made: a row costs M entries, the table M * Ks, and
// most probes that pass rows pass a few (at nprobe 5 on 1M image patches,
// PQ32x8, 88% of them pass at most 16).
inline constexpr std::size_t kRowsBeforeTable = 16;

// The exact rescoring of one probe's passing places when its levels came
// from the codewords: its first kRowsBeforeTable places from the residual's
// entries, made one by one (TableMaker::entry) and summed in the adist
// order; then from its table, made into `table` at the first place past them.
struct ProbeRescorer {
    const float* residual = nullptr;  // [dim]
    std::size_t q = 0;                // names the query in errors
    float* table = nullptr;           // [M][Ks]
    bool made = false;                // `table` holds the probe's table
    std::size_t passed = 0;           // places read from the codewords

    // Offers the n places listed, ascending: from the codewords while fewer
    // than kRowsBeforeTable have been, then the rest together from the
    // table (offer_places_at), made at the first of them.
    template <class Layout>
    void offer_all(Layout layout, const KernelTable& kernels, const IvfView& view, const IdList& list,
                   const std::size_t* places, std::size_t n, const PlaceNamer& name, ListScanBuffers& buffers,
                   TopK& top) {
        const std::size_t M = view.n_subspaces;
        std::size_t i = 0;
        for (; i < n && !made && passed < kRowsBeforeTable; ++i, ++passed) {
            const std::size_t place = places[i];
            const std::uint8_t* block = list.blocks.data() + place / Layout::kRowsPerBlock * Layout::block_bytes(M);
            const std::size_t row = place % Layout::kRowsPerBlock;
            const float distance = reference::numpy_sum(
                M, [&](std::size_t m) { return view.maker->entry(residual, m, Layout::code_in_block(block, row, m)); });
            offer_named(view.metric, list, place, 1, &distance, name, top);
        }
        if (i == n) return;
        if (!made) make_checked_table(kernels, *view.maker, residual, q, table);
        made = true;
        offer_places_at(layout, table, M, view.n_codewords, view.metric, list, places + i, n - i, name, buffers, top);
    }
};

// The scan of residual list l (levels_from_codewords) for query q when its
// top-k is full: the levels come from the codewords, and the exact table is made
// into `table` only when rows pass. False, with nothing offered, when the
// levels cannot be made so (the caller reads the list as before).
template <class Layout>
bool scan_from_codewords(Layout layout, const KernelTable& kernels, const IvfView& view, const float* query,
                         std::size_t q, const IdList& list, const PlaceNamer& name, IvfScanBuffers& buffers,
                         float* table, TopK& top) {
    const std::size_t M = view.n_subspaces;
    buffers.residual.resize(view.dim);
    residual_to(view, query, name.list_no, buffers.residual.data());
    buffers.lut.resize(Layout::lut_bytes(M));
    const QuantizedTable quantized =
        quantize_residual(layout, kernels, view, buffers.residual.data(), top.bound(), buffers.lut.data());
    if (!quantized.fast) return false;
    ProbeRescorer rescorer{buffers.residual.data(), q, table};
    scan_blocks(layout, kernels, list, list.rows.size(), 0, M, quantized, top, buffers,
                [&](const std::size_t* passed, std::size_t count) {
                    rescorer.offer_all(layout, kernels, view, list, passed, count, name, buffers, top);
                });
    return true;
}

// Makes query q's own table in buffers.table when its lists share rows of
// it (no residuals, or inner products: rows 1.. are q's own table), with
// row 0 in buffers.base_row. Starts a query's scan_probe calls.
inline void begin_query(const KernelTable& kernels, const IvfView& view, const float* query, std::size_t q,
                        IvfScanBuffers& buffers) {
    buffers.table.resize(view.n_subspaces * view.n_codewords);
    if (view.by_residual && view.metric == Metric::l2) return;
    make_checked_table(kernels, *view.maker, query, q, buffers.table.data());
    buffers.base_row.assign(buffers.table.begin(),
                            buffers.table.begin() + static_cast<std::ptrdiff_t>(view.n_codewords));
}

// Query q's scan of list l (of coarse key `list_key`) into `top`, after
// begin_query. `quantized` is the fast-scan form of buffers.table when
// `current` (a query's lists share it without residuals).
inline void scan_probe(const KernelTable& kernels, const IvfView& view, const float* query, std::size_t q,
                       std::size_t l, float list_key, const IdFilter& wanted, IvfScanBuffers& buffers,
                       QuantizedTable& quantized, bool& current, TopK& top) {
    const std::size_t M = view.n_subspaces, Ks = view.n_codewords;
    const IdList& list = view.lists[l];
    if (list.rows.empty()) return;
    float* table = buffers.table.data();
    const PlaceNamer name{l, &wanted};
    if (view.by_residual) {
        current = false;
        if (view.code_bytes == 1 && levels_from_codewords(view) && top.full() &&
            list.rows.size() >= fast_scan_min_rows(Ks) && has_fast_scan(kernels, Ks) &&
            with_layout(Ks, [&](auto layout) {
                return scan_from_codewords(layout, kernels, view, query, q, list, name, buffers, table, top);
            }))
            return;
        make_list_table(kernels, view, query, q, l, list_key, /* base_ready = */ true, buffers, table);
    }
    if (view.code_bytes == 1) {
        with_layout(Ks, [&](auto layout) {
            scan_id_list(layout, kernels, table, view, list, name, current, quantized, buffers, top);
        });
    } else if (view.code_bytes == 2) {
        offer_plain<std::uint16_t>(kernels, table, M, Ks, view.metric, list, name, buffers.distances, top);
    } else {
        offer_plain<std::uint32_t>(kernels, table, M, Ks, view.metric, list, name, buffers.distances, top);
    }
}

// One query's top-k over its nprobe lists into `top`; q names the query in errors.
inline void search_one(const KernelTable& kernels, const IvfView& view, const float* query, std::size_t q,
                       std::size_t nprobe, const IdFilter& wanted, IvfScanBuffers& buffers, TopK& top) {
    probe_order(kernels, view, query, nprobe, buffers);
    begin_query(kernels, view, query, q, buffers);
    QuantizedTable quantized;
    bool current = false;
    const std::size_t n_scanned = buffers.order.size();
    for (std::size_t r = 0; r < n_scanned; ++r) {
        const std::size_t l = static_cast<std::size_t>(buffers.order[r].id);
        if (r == 0) prefetch_list(view.lists[l]);
        if (r + 1 < n_scanned) prefetch_list(view.lists[static_cast<std::size_t>(buffers.order[r + 1].id)]);
        scan_probe(kernels, view, query, q, l, buffers.coarse[l], wanted, buffers, quantized, current, top);
    }
}

// Queries a list's scan serves at once, and the lists' share of a batch: a
// list probed by several queries of a batch is read from memory once for
// all of them (its codes stay in cache between the kernel's query groups).
inline constexpr std::size_t kListGroupQueries = 8;

// Blocks of a list's first kernel call in the batch scan: its queries' top k
// are full and tight from their nearest lists, so their bounds gain little
// from the one-block start the nearest list takes, and the kernels run
// blocks by fours (avx512 Scan8Bit).
inline constexpr std::size_t kBatchFirstChunkBlocks = 4;

// A batch part's n queries (members: their numbers in the batch) over
// their probes past the nearest, list after list; probes and probe_keys are
// the batch's ([n_queries][nprobe]), tops the members', in order, each
// holding its nearest list's top-k already. Residual lists of Ks <= 256 with a fast scan only.
template <class Layout>
void scan_lists_of_batch(Layout layout, const KernelTable& kernels, const IvfView& view, const float* queries,
                         const std::uint32_t* members, std::size_t n, std::size_t nprobe,
                         const std::vector<std::uint32_t>& probes, const std::vector<float>& probe_keys,
                         const IdFilter& wanted, TopK* tops, IvfScanBuffers& buffers) {
    using Mask = typename Layout::Mask;
    const std::size_t M = view.n_subspaces, Ks = view.n_codewords, table_size = M * Ks, D = view.dim;
    const std::size_t rows_per_block = Layout::kRowsPerBlock, block_bytes = Layout::block_bytes(M);
    const std::size_t lut_bytes = Layout::lut_bytes(M);
    // The (query, probe) pairs of each list, by list: a counting sort.
    std::vector<std::size_t> start(view.n_lists + 1, 0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t r = 1; r < nprobe; ++r) ++start[probes[members[i] * nprobe + r] + 1];
    for (std::size_t l = 0; l < view.n_lists; ++l) start[l + 1] += start[l];
    std::vector<std::size_t> pairs(start[view.n_lists]), filled(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t r = 1; r < nprobe; ++r) pairs[filled[probes[members[i] * nprobe + r]]++] = i * nprobe + r;

    std::vector<float> tables(kListGroupQueries * table_size), residuals(kListGroupQueries * D);
    std::vector<ProbeRescorer> rescorers(kListGroupQueries);
    const bool from_codewords = levels_from_codewords(view);
    std::vector<std::uint8_t> luts(kListGroupQueries * lut_bytes);
    std::vector<QuantizedTable> quantized(kListGroupQueries);
    std::vector<std::uint16_t> thresholds(kListGroupQueries);
    std::vector<std::size_t> group(kListGroupQueries);
    const std::size_t max_chunk = std::max<std::size_t>(1, kFastScanChunkRows / rows_per_block);
    std::vector<Mask> masks(max_chunk * kListGroupQueries);
    for (std::size_t l = 0; l < view.n_lists; ++l) {
        const IdList& list = view.lists[l];
        const std::size_t size = list.rows.size();
        if (size == 0 || start[l] == start[l + 1]) continue;
        const PlaceNamer name{l, &wanted};
        for (std::size_t at = start[l]; at < start[l + 1]; at += kListGroupQueries) {
            // The group's tables and levels; a query whose table cannot be
            // quantized, or whose top-k is not full yet, reads the list exactly.
            std::size_t g = 0;
            for (std::size_t p = at; p < (std::min)(start[l + 1], at + kListGroupQueries); ++p) {
                const std::size_t i = pairs[p] / nprobe, q = members[i], r = pairs[p] % nprobe;
                float* table = tables.data() + g * table_size;
                TopK& top = tops[i];
                const bool fast = size >= fast_scan_min_rows(Ks) && top.full();
                if (fast && from_codewords) {
                    float* residual = residuals.data() + g * D;
                    residual_to(view, queries + q * D, l, residual);
                    quantized[g] =
                        quantize_residual(layout, kernels, view, residual, top.bound(), luts.data() + g * lut_bytes);
                    rescorers[g] = ProbeRescorer{residual, q, table};
                    if (quantized[g].fast) {
                        group[g++] = i;
                        continue;
                    }
                }
                make_list_table(kernels, view, queries + q * D, q, l, probe_keys[q * nprobe + r],
                                /* base_ready = */ false, buffers, table);
                if (fast) {
                    quantized[g] =
                        quantize_table(layout, table, M, Ks, view.metric, luts.data() + g * lut_bytes, top.bound());
                    rescorers[g] = ProbeRescorer{nullptr, q, table, /* made = */ true};
                    if (quantized[g].fast) {
                        group[g++] = i;
                        continue;
                    }
                }
                offer_places(layout, table, M, Ks, view.metric, list, 0, size, name, buffers, top);
            }
            if (g == 0) continue;
            const std::size_t n_blocks = (size + rows_per_block - 1) / rows_per_block;
            for (std::size_t block = 0, chunk = (std::min)(kBatchFirstChunkBlocks, max_chunk); block < n_blocks;
                 block += chunk, chunk = (std::min)(2 * chunk, max_chunk)) {
                chunk = (std::min)(chunk, n_blocks - block);
                for (std::size_t j = 0; j < g; ++j) thresholds[j] = quantized[j].bound(tops[group[j]].bound());
                (kernels.*Layout::kScan)(list.blocks.data() + block * block_bytes, chunk, M, luts.data(), g,
                                         thresholds.data(), masks.data());
                for (std::size_t j = 0; j < g; ++j) {
                    std::vector<std::size_t>& passing = buffers.passing;
                    passing_places(masks.data() + j, g, chunk, block, rows_per_block, 0, size, passing);
                    if (!passing.empty())
                        rescorers[j].offer_all(layout, kernels, view, list, passing.data(), passing.size(), name,
                                               buffers, tops[group[j]]);
                }
            }
        }
    }
}

// Queries whose coarse keys are made together, and the centroids a pass
// reads for them: a pass's 64 centroids (16 KB at 64-d) stay in L1 for the
// group's other queries, where each query alone streams all of them from L2.
inline constexpr std::size_t kCoarseGroup = 4;
inline constexpr std::size_t kCoarsePass = 2 * reference::kColumnBlock;

// The coarse keys of queries [first, first + n), n <= kCoarseGroup, into
// keys ([n][n_lists]): coarse_keys' bits, a pass of centroids at a time.
inline void coarse_keys_of_group(const KernelTable& kernels, const IvfView& view, const float* queries, std::size_t n,
                                 float* keys) {
    const CoarseCenters& coarse = *view.coarse;
    const float* starts = view.metric == Metric::l2 ? coarse.half_norms.data() : nullptr;
    for (std::size_t c = 0; c < view.n_lists; c += kCoarsePass) {
        const std::size_t width = (std::min)(kCoarsePass, view.n_lists - c);
        for (std::size_t i = 0; i < n; ++i)
            kernels.column_keys(queries + i * view.dim, coarse.blocks.data() + c * coarse.dim,
                                starts ? starts + c : nullptr, width, coarse.dim, keys + i * view.n_lists + c);
    }
}

// A probe's fixed work (its table and levels), in rows of scan: a batch's
// parts are cut by the rows and probes of their queries.
inline constexpr std::size_t kProbeWorkRows = 1000;

// Queries a part of a batch search takes at least: below, the lists a
// query probes are rarely shared, and the query-by-query scan is as fast.
inline constexpr std::size_t kBatchMinQueries = 16;

// Queries a thread takes at a time for their nearest lists in a batch
// search (about 3% of a batch of 1000).
inline constexpr std::size_t kNearestRunQueries = 32;

// Turns the places a search named (PlaceNamer) into ids, -1 staying -1.
inline void place_ids(const IvfView& view, std::int64_t* named, std::size_t count) {
    const std::uint64_t place_mask = (std::uint64_t{1} << kPlaceBits) - 1;
    for (std::size_t j = 0; j < count; ++j) {
        if (named[j] < 0) continue;
        const std::uint64_t value = static_cast<std::uint64_t>(named[j]);
        named[j] = view.lists[value >> kPlaceBits].rows[value & place_mask];
    }
}

// The top-k ids of each query ([n_queries][dim]) over its nprobe nearest
// lists, best first (-1 in an empty slot). Each query's nearest list is
// scanned query by query (which sets a tight bound), in runs of queries the
// threads take as they come free; then the queries are split in one part a
// thread, which scans their other probes list by list, so that a list is
// read once for all the queries of the part that probe it. Every query's result is
// the exact top-k of its lists whatever the order: it does not depend on the
// thread count or on the other queries.
inline void search_ivf(const IvfView& view, const float* queries, std::size_t n_queries, std::size_t k,
                       std::size_t nprobe, const IdFilter& wanted, std::int64_t* out_ids, float* out_distances,
                       int num_threads) {
    const KernelTable& kernels = active_kernels();
    const std::size_t work = n_queries * (view.n_lists * view.dim + nprobe * view.n_subspaces * view.n_codewords);
    const int threads = threads_for(work, std::size_t{1} << 18, num_threads);
    const bool batched = view.by_residual && view.code_bytes == 1 && has_fast_scan(kernels, view.n_codewords) &&
                         n_queries >= kBatchMinQueries;
    if (!batched) {
        const std::size_t n_tasks = (n_queries + kListQueriesPerTask - 1) / kListQueriesPerTask;
        parallel_for(n_tasks, threads, [&](std::size_t task) {
            IvfScanBuffers buffers;
            TopK top(k);
            const std::size_t end = (std::min)(n_queries, (task + 1) * kListQueriesPerTask);
            for (std::size_t q = task * kListQueriesPerTask; q < end; ++q) {
                top.clear();
                search_one(kernels, view, queries + q * view.dim, q, nprobe, wanted, buffers, top);
                top.write(view.metric, out_ids + q * k, out_distances + q * k);
                place_ids(view, out_ids + q * k, k);
            }
        });
        return;
    }
    // Every query's probes, best first, with their coarse keys.
    std::vector<std::uint32_t> probes(n_queries * nprobe);
    std::vector<float> probe_keys(n_queries * nprobe);
    const std::size_t per_task = 4 * kCoarseGroup, n_tasks = (n_queries + per_task - 1) / per_task;
    parallel_for(n_tasks, threads, [&](std::size_t task) {
        IvfScanBuffers buffers;
        std::vector<float> keys(kCoarseGroup * view.n_lists);
        const std::size_t end = (std::min)(n_queries, (task + 1) * per_task);
        for (std::size_t q = task * per_task; q < end; ++q) {
            const float* query = queries + q * view.dim;
            if (q % kCoarseGroup == 0)
                coarse_keys_of_group(kernels, view, query, (std::min)(kCoarseGroup, end - q), keys.data());
            probe_order(kernels, view, query, nprobe, buffers, keys.data() + q % kCoarseGroup * view.n_lists);
            for (std::size_t r = 0; r < nprobe; ++r) {
                const std::size_t l = static_cast<std::size_t>(buffers.order[r].id);
                probes[q * nprobe + r] = static_cast<std::uint32_t>(l);
                probe_keys[q * nprobe + r] = buffers.coarse[l];
            }
        }
    });
    // The queries by nearest list: neighbours in this order share lists.
    std::vector<std::uint32_t> members(n_queries);
    std::iota(members.begin(), members.end(), std::uint32_t{0});
    std::stable_sort(members.begin(), members.end(), [&](std::uint32_t a, std::uint32_t b) {
        return probes[std::size_t{a} * nprobe] < probes[std::size_t{b} * nprobe];
    });
    // Each query's nearest list first, query by query (it sets a tight
    // bound), in runs handed out to the threads as they come free: a vCPU
    // the host slows then holds no other up (in such a spell, nprobe 1 on two
    // threads took 7.9 us a query with parts handed out so, 8.8 with a fixed
    // part a thread). The next query's list is asked for from memory
    // meanwhile. tops[i] is members[i]'s.
    std::vector<TopK> tops(n_queries, TopK(k));
    const auto write = [&](std::size_t i) {
        const std::size_t q = members[i];
        tops[i].write(view.metric, out_ids + q * k, out_distances + q * k);
        place_ids(view, out_ids + q * k, k);
    };
    const std::size_t n_runs = (n_queries + kNearestRunQueries - 1) / kNearestRunQueries;
    parallel_for(n_runs, threads, [&](std::size_t run) {
        IvfScanBuffers buffers;
        const std::size_t first = run * kNearestRunQueries, end = (std::min)(n_queries, first + kNearestRunQueries);
        for (std::size_t i = first; i < end; ++i) {
            const std::size_t q = members[i];
            const float* query = queries + q * view.dim;
            const std::uint32_t nearest = probes[q * nprobe];
            if (i == first) prefetch_list(view.lists[nearest]);
            if (i + 1 < end && probes[members[i + 1] * nprobe] != nearest)
                prefetch_list(view.lists[probes[members[i + 1] * nprobe]]);
            begin_query(kernels, view, query, q, buffers);
            QuantizedTable quantized;
            bool current = false;
            scan_probe(kernels, view, query, q, nearest, probe_keys[q * nprobe], wanted, buffers, quantized, current,
                       tops[i]);
            if (nprobe == 1) write(i);
        }
    });
    if (nprobe == 1) return;
    // Then the other probes, list by list, in a part a thread: the parts are
    // cut at about equal work, and a part's queries share more of their lists
    // (equal query counts left one of two threads 35% behind on 1M image
    // patches). The results do not depend on the parts.
    const auto work_of = [&](std::uint32_t q) {
        double rows = 0.0;
        for (std::size_t r = 1; r < nprobe; ++r)
            rows += static_cast<double>(view.lists[probes[q * nprobe + r]].rows.size() + kProbeWorkRows);
        return rows;
    };
    double total = 0.0;
    for (std::uint32_t q : members) total += work_of(q);
    const std::size_t n_parts = (std::min)(static_cast<std::size_t>(threads), n_queries / kBatchMinQueries);
    std::vector<std::size_t> cuts(1, 0);
    double done = 0.0;
    for (std::size_t i = 0; i < n_queries && cuts.size() < n_parts; ++i) {
        done += work_of(members[i]);
        if (done >= total * static_cast<double>(cuts.size()) / static_cast<double>(n_parts)) cuts.push_back(i + 1);
    }
    cuts.push_back(n_queries);
    parallel_for(cuts.size() - 1, static_cast<int>(n_parts), [&](std::size_t part) {
        IvfScanBuffers buffers;
        const std::size_t n = cuts[part + 1] - cuts[part];
        with_layout(view.n_codewords, [&](auto layout) {
            scan_lists_of_batch(layout, kernels, view, queries, members.data() + cuts[part], n, nprobe, probes,
                                probe_keys, wanted, tops.data() + cuts[part], buffers);
        });
        for (std::size_t i = cuts[part]; i < cuts[part + 1]; ++i) write(i);
    });
}

}  // namespace nanopq_cpp::impl
