#pragma once
// Posting lists over uint8 PQ codes (Ks <= 256), and the exact top-k search
// through them: the engine of the inverted index (../rii.hpp).
//
// A query ranks the lists by the ADC distance to their coarse centers (which
// are PQ codes, pq_kmeans.hpp) and takes candidates list by list, as rii
// does: it stops once L candidates are taken (inside a list if need be), or
// after the first w = round(L * nlist / n_candidates) + 3 lists if k are
// taken by then. Within those candidates the result is exact: the ids and
// distances a flat search (adc.hpp) of the same rows gives, ties to the lower
// row. Long scans run the fast scan over the lists' packed blocks with the
// rounding bound of fast_scan.hpp, short ones the exact ADC scan; both give
// the same result, so the choice is only a matter of speed.
//
// Internal: trusts its callers (rows, lists and positions it was given by
// the index that owns them).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../common.hpp"
#include "adc.hpp"
#include "fast_scan.hpp"
#include "packed_layout.hpp"
#include "top_k.hpp"

namespace nanopq_cpp::impl {

// The list of a row that is in none (added without updating the lists).
inline constexpr std::uint32_t kNoList = 0xFFFFFFFFu;

// One posting list: its rows of the index's codes, ascending, and the codes
// of its first rows packed in full blocks (packed_layout.hpp). Rows after the
// last full block are read from the index's row-major codes.
struct PostingList {
    std::vector<std::size_t> rows;
    std::vector<std::uint8_t> blocks;
};

// An index as the search reads it.
struct ListsView {
    const std::uint8_t* codes = nullptr;  // [n_rows][M]
    std::size_t n_rows = 0, n_subspaces = 0, n_codewords = 0;
    const std::uint8_t* centers = nullptr;  // [n_lists][M]
    const PostingList* lists = nullptr;
    std::size_t n_lists = 0;
    const std::uint32_t* list_of_row = nullptr;      // kNoList for a row in no list
    const std::uint32_t* position_of_row = nullptr;  // its place in that list
};

// Packs the list's rows that now fill whole blocks and are not packed yet.
inline void pack_new_blocks(PostingList& list, const std::uint8_t* codes, std::size_t M, std::size_t Ks) {
    with_layout(Ks, [&](auto layout) {
        using Layout = decltype(layout);
        const std::size_t rows_per_block = Layout::kRowsPerBlock, block_bytes = Layout::block_bytes(M);
        std::vector<std::uint8_t> block_codes(rows_per_block * M);
        for (std::size_t packed = list.blocks.size() / block_bytes * rows_per_block;
             packed + rows_per_block <= list.rows.size(); packed += rows_per_block) {
            for (std::size_t j = 0; j < rows_per_block; ++j)
                std::copy_n(codes + list.rows[packed + j] * M, M, block_codes.data() + j * M);
            const std::size_t at = list.blocks.size();
            list.blocks.resize(at + block_bytes, 0);
            for (std::size_t j = 0; j < rows_per_block; ++j)
                for (std::size_t m = 0; m < M; ++m)
                    Layout::put_in_block(list.blocks.data() + at, j, m, block_codes[j * M + m]);
        }
    });
}

// A search's subset of rows, as each list sees it: the places of its target
// rows, ascending, and a bit a row of the index.
struct TargetRows {
    std::vector<std::size_t> first;         // n_lists + 1: list l's places are places[first[l] .. first[l + 1])
    std::vector<std::uint32_t> places;      // places in their list
    std::vector<std::uint64_t> row_bits;    // bit r: row r is a target
    std::size_t n_rows = 0;                 // targets (in lists or not)

    bool has(std::size_t row) const { return (row_bits[row / 64] >> (row % 64)) & 1u; }
};

// `rows` must be ascending and distinct rows of the view.
inline TargetRows target_rows(const ListsView& view, const std::vector<std::size_t>& rows) {
    TargetRows targets;
    targets.n_rows = rows.size();
    targets.row_bits.assign((view.n_rows + 63) / 64, 0);
    targets.first.assign(view.n_lists + 1, 0);
    for (std::size_t row : rows) {
        targets.row_bits[row / 64] |= std::uint64_t{1} << (row % 64);
        if (view.list_of_row[row] != kNoList) ++targets.first[view.list_of_row[row] + 1];
    }
    for (std::size_t l = 0; l < view.n_lists; ++l) targets.first[l + 1] += targets.first[l];
    targets.places.resize(targets.first[view.n_lists]);
    std::vector<std::size_t> filled(targets.first.begin(), targets.first.end() - 1);
    // Ascending rows give ascending places within each list.
    for (std::size_t row : rows)
        if (view.list_of_row[row] != kNoList) targets.places[filled[view.list_of_row[row]]++] = view.position_of_row[row];
    return targets;
}

// Scan the first `places` places of list `list`.
struct ListSegment {
    std::size_t list;
    std::size_t places;
};

// The lists a query visits and how far, by rii's rule (see the top).
inline void plan_lists(const KernelTable& kernels, const float* table, const ListsView& view, std::size_t k,
                       std::size_t n_wanted, Metric metric, const TargetRows* targets, std::vector<float>& coarse,
                       std::vector<Neighbor>& order, std::vector<ListSegment>& plan) {
    const std::size_t n_lists = view.n_lists;
    coarse.resize(n_lists);
    kernels.adist_u8(table, view.n_subspaces, view.n_codewords, view.centers, n_lists, coarse.data());
    order.resize(n_lists);
    for (std::size_t l = 0; l < n_lists; ++l)
        order[l] = Neighbor{key_of(metric, coarse[l]), static_cast<std::int64_t>(l)};
    const std::size_t n_candidates = targets ? targets->n_rows : view.n_rows;
    const double share = static_cast<double>(n_wanted) * static_cast<double>(n_lists) /
                         static_cast<double>((std::max)(std::size_t{1}, n_candidates));
    const std::size_t w = (std::min)(n_lists, static_cast<std::size_t>(std::round(share)) + 3);
    plan.clear();
    std::size_t sorted = 0, taken = 0;
    for (std::size_t i = 0; i < n_lists; ++i) {
        if (i == sorted) {  // sort the order a stretch at a time: most queries need few lists
            const std::size_t next = (std::min)(n_lists, (std::max)({2 * sorted, w, std::size_t{8}}));
            std::partial_sort(order.begin() + sorted, order.begin() + next, order.end());
            sorted = next;
        }
        const std::size_t list = static_cast<std::size_t>(order[i].id);
        const std::size_t count = targets ? targets->first[list + 1] - targets->first[list] : view.lists[list].rows.size();
        if (taken + count >= n_wanted) {
            const std::size_t need = n_wanted - taken;
            if (need > 0)
                plan.push_back({list, targets ? targets->places[targets->first[list] + need - 1] + 1 : need});
            return;
        }
        if (count > 0) plan.push_back({list, view.lists[list].rows.size()});
        taken += count;
        if (i + 1 == w && taken >= k) return;
    }
}

// Buffers of one thread's queries.
struct ListScanBuffers {
    std::vector<float> coarse, distances;
    std::vector<Neighbor> order;
    std::vector<ListSegment> plan;
    std::vector<std::size_t> rows;
    std::vector<std::uint8_t> codes, lut;
    std::vector<std::uint64_t> masks;
};

// Exact distances of `rows` (rows of the view), offered to `top` with the row as id.
inline void offer_rows_exactly(const KernelTable& kernels, const float* table, const ListsView& view, Metric metric,
                               const std::vector<std::size_t>& rows, ListScanBuffers& buffers, TopK& top) {
    const std::size_t M = view.n_subspaces;
    buffers.codes.resize(rows.size() * M);
    buffers.distances.resize(rows.size());
    for (std::size_t j = 0; j < rows.size(); ++j) std::copy_n(view.codes + rows[j] * M, M, buffers.codes.data() + j * M);
    kernels.adist_u8(table, M, view.n_codewords, buffers.codes.data(), rows.size(), buffers.distances.data());
    top.offer_distances(kernels, metric, buffers.distances.data(), rows.size(),
                        [&](std::size_t j) { return static_cast<std::int64_t>(rows[j]); });
}

// Places a list's targets must make up before the fast scan of its blocks
// pays: below that share the few target rows are read one by one.
inline constexpr std::size_t kDenseTargetShare = 4;  // one target in four places

// Rows scanned per query from which the fast scan beats the exact one: its
// table quantization costs about four exact looks-ups a table entry.
inline std::size_t fast_scan_min_rows(std::size_t n_codewords) { return 4 * n_codewords; }

// One query's scan of its planned lists into `top`.
template <class Layout>
void scan_plan(Layout, const KernelTable& kernels, const float* table, const ListsView& view, Metric metric,
               const TargetRows* targets, ListScanBuffers& buffers, TopK& top) {
    using Mask = typename Layout::Mask;
    const std::size_t M = view.n_subspaces, Ks = view.n_codewords;
    const std::size_t rows_per_block = Layout::kRowsPerBlock, block_bytes = Layout::block_bytes(M);
    std::size_t n_places = 0;
    for (const ListSegment& segment : buffers.plan) n_places += segment.places;
    QuantizedTable quantized;
    if (n_places >= fast_scan_min_rows(Ks) && has_fast_scan(kernels, Ks)) {
        buffers.lut.resize(Layout::lut_bytes(M));
        quantized = quantize_table(Layout{}, table, M, Ks, metric, buffers.lut.data());
    }
    std::vector<std::size_t>& rows = buffers.rows;
    for (const ListSegment& segment : buffers.plan) {
        const PostingList& list = view.lists[segment.list];
        const std::uint32_t* target_places = targets ? targets->places.data() + targets->first[segment.list] : nullptr;
        const std::size_t n_targets =
            targets ? static_cast<std::size_t>(std::lower_bound(target_places,
                                                                targets->places.data() + targets->first[segment.list + 1],
                                                                static_cast<std::uint32_t>(segment.places)) -
                                               target_places)
                    : segment.places;
        std::size_t place = 0;
        rows.clear();
        if (quantized.fast && n_targets * kDenseTargetShare >= segment.places) {
            const std::size_t n_blocks = (std::min)(list.blocks.size() / block_bytes, segment.places / rows_per_block);
            const std::size_t max_chunk = std::max<std::size_t>(1, kFastScanChunkRows / rows_per_block);
            buffers.masks.resize((max_chunk + 7) / 8 * 8);
            Mask* masks = reinterpret_cast<Mask*>(buffers.masks.data());
            for (std::size_t block = 0, chunk = 1; block < n_blocks;
                 block += chunk, chunk = (std::min)(2 * chunk, max_chunk)) {
                chunk = (std::min)(chunk, n_blocks - block);
                const std::uint16_t threshold = quantized.bound(top.bound());
                (kernels.*Layout::kScan)(list.blocks.data() + block * block_bytes, chunk, M, buffers.lut.data(), 1,
                                         &threshold, masks);
                rows.clear();
                for (std::size_t b = 0; b < chunk; ++b)
                    for (Mask mask = masks[b]; mask != 0; mask &= mask - 1) {
                        const std::size_t row = list.rows[(block + b) * rows_per_block + lowest_bit(mask)];
                        if (!targets || targets->has(row)) rows.push_back(row);
                    }
                if (!rows.empty()) offer_rows_exactly(kernels, table, view, metric, rows, buffers, top);
            }
            place = n_blocks * rows_per_block;
            rows.clear();
            for (; place < segment.places; ++place)
                if (!targets || targets->has(list.rows[place])) rows.push_back(list.rows[place]);
        } else if (targets) {
            for (std::size_t t = 0; t < n_targets; ++t) rows.push_back(list.rows[target_places[t]]);
        } else {
            rows.assign(list.rows.begin(), list.rows.begin() + static_cast<std::ptrdiff_t>(segment.places));
        }
        if (!rows.empty()) offer_rows_exactly(kernels, table, view, metric, rows, buffers, top);
    }
}

// Queries a task of the list search takes: enough to spread a batch over
// the threads, few enough that one slow query does not hold the rest up.
inline constexpr std::size_t kListQueriesPerTask = 8;

// The top-k rows of each query ([q][M][Ks] tables) among the candidates its
// lists give (see the top): out_rows[q][j] is a row of the view (-1 in an
// empty slot), best first. Results do not depend on the thread count: each
// query is searched by one thread.
inline void search_lists(const ListsView& view, const float* tables, std::size_t n_queries, std::size_t k,
                         std::size_t n_wanted, Metric metric, const TargetRows* targets, std::int64_t* out_rows,
                         float* out_distances, int num_threads) {
    const KernelTable& kernels = active_kernels();
    const std::size_t table_size = view.n_subspaces * view.n_codewords;
    const std::size_t n_tasks = (n_queries + kListQueriesPerTask - 1) / kListQueriesPerTask;
    const std::size_t work = n_queries * (view.n_lists + n_wanted) * view.n_subspaces;
    const int threads = threads_for(work, std::size_t{1} << 18, num_threads);
    parallel_for(n_tasks, threads, [&](std::size_t task) {
        ListScanBuffers buffers;
        for (std::size_t q = task * kListQueriesPerTask; q < (std::min)(n_queries, (task + 1) * kListQueriesPerTask);
             ++q) {
            const float* table = tables + q * table_size;
            plan_lists(kernels, table, view, k, n_wanted, metric, targets, buffers.coarse, buffers.order,
                       buffers.plan);
            TopK top(k);
            with_layout(view.n_codewords,
                        [&](auto layout) { scan_plan(layout, kernels, table, view, metric, targets, buffers, top); });
            top.write(metric, out_rows + q * k, out_distances + q * k);
        }
    });
}

}  // namespace nanopq_cpp::impl
