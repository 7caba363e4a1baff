#pragma once
// Posting lists over uint8 PQ codes (Ks <= 256), and the exact top-k search
// through them: the engine of the inverted index (../rii.hpp).
//
// A query ranks the lists by the l2 distance (or inner product) between it
// and their decoded coarse centers, and takes candidates list by list, as
// rii does: it stops once L candidates are taken (inside a list if need be),
// or after the first w = round(L * nlist / n_candidates) + 3 lists if k are
// taken by then. Within those candidates the result is exact: the ids and
// distances a flat search (adc.hpp) of the same rows gives, ties to the lower
// row. Long scans run the fast scan over the lists' packed blocks with the
// rounding bound of fast_scan.hpp, short ones the exact ADC; both give the
// same result, so the choice is only a matter of speed.
//
// Internal: trusts its callers (rows, lists and places it was given by the
// index that owns them).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common.hpp"
#include "adc.hpp"
#include "fast_scan.hpp"
#include "packed_layout.hpp"
#include "pq.hpp"
#include "simd/scalar.hpp"
#include "top_k.hpp"

namespace nanopq_cpp::impl {

// The list of a row that is in none (added without updating the lists).
inline constexpr std::uint32_t kNoList = 0xFFFFFFFFu;

// One posting list: what each entry stands for (a row of the index's codes,
// or an id), and a copy of their codes side by side, so a scan reads no
// other memory: packed in blocks (packed_layout.hpp), the last one filled
// as entries come (its free places hold code 0, which scans mask off).
template <class Entry>
struct PostingListOf {
    std::vector<Entry> rows;
    std::vector<std::uint8_t> blocks;
};
using PostingList = PostingListOf<std::size_t>;

// Appends `row`, whose codes are `code` (M values), to the list.
template <class Layout, class Entry>
void append_to_list(Layout, PostingListOf<Entry>& list, Entry row, const std::uint8_t* code, std::size_t M) {
    const std::size_t place = list.rows.size() % Layout::kRowsPerBlock, block_bytes = Layout::block_bytes(M);
    if (place == 0) list.blocks.resize(list.blocks.size() + block_bytes, 0);
    list.rows.push_back(row);
    std::uint8_t* block = list.blocks.data() + list.blocks.size() - block_bytes;
    for (std::size_t m = 0; m < M; ++m) Layout::put_in_block(block, place, m, code[m]);
}

// The coarse centers as the ranking reads them: decoded, in the column
// blocks of the kernel table's column_keys (simd/scalar.hpp), and minus half
// their squared norms: the l2 key of center c is -(q.c - |c|^2 / 2), half
// |q - c|^2 less a constant, and the inner-product key is -(q.c).
struct CoarseCenters {
    std::vector<float> blocks;
    std::vector<float> half_norms;  // -|c|^2 / 2
    std::size_t dim = 0;

    CoarseCenters() = default;
    // From n decoded centers ([n][dim]).
    CoarseCenters(const float* centers, std::size_t n, std::size_t dim_) : half_norms(n), dim(dim_) {
        const std::size_t width = reference::kColumnBlock;
        blocks.assign((n + width - 1) / width * width * dim, 0.0f);
        for (std::size_t l = 0; l < n; ++l) {
            double norm = 0.0;
            for (std::size_t d = 0; d < dim; ++d) {
                const float value = centers[l * dim + d];
                blocks[(l / width) * dim * width + d * width + l % width] = value;
                norm += static_cast<double>(value) * value;
            }
            half_norms[l] = static_cast<float>(-0.5 * norm);
        }
    }
};

// An index as the search reads it.
struct ListsView {
    std::size_t n_rows = 0, n_subspaces = 0, n_codewords = 0;
    const CoarseCenters* coarse = nullptr;
    const PostingList* lists = nullptr;
    std::size_t n_lists = 0;
    const std::uint32_t* list_of_row = nullptr;      // kNoList for a row in no list
    const std::uint32_t* position_of_row = nullptr;  // its place in that list
};

// A search's subset of rows, as each list sees it: the places of its target
// rows, ascending, and a bit a row of the index.
struct TargetRows {
    std::vector<std::size_t> first;     // n_lists + 1: list l's places are places[first[l] .. first[l + 1])
    std::vector<std::uint32_t> places;  // places in their list
    std::vector<std::uint64_t> row_bits;
    std::size_t n_rows = 0;  // targets (in lists or not)

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
        if (view.list_of_row[row] != kNoList)
            targets.places[filled[view.list_of_row[row]]++] = view.position_of_row[row];
    return targets;
}

// Scan the first `places` places of list `list`.
struct ListSegment {
    std::size_t list;
    std::size_t places;
};

// Buffers of one thread's queries.
struct ListScanBuffers {
    std::vector<float> table, coarse, distances;
    std::vector<Neighbor> order;
    std::vector<ListSegment> plan;
    std::vector<std::uint32_t> places;
    std::vector<std::size_t> passing;  // a fast-scan chunk's passing places (scan_blocks)
    std::vector<std::uint8_t> lut;
    std::vector<Layout4Bit::Mask> masks_4bit;
    std::vector<Layout8Bit::Mask> masks_8bit;

    std::vector<Layout4Bit::Mask>& masks(Layout4Bit) { return masks_4bit; }
    std::vector<Layout8Bit::Mask>& masks(Layout8Bit) { return masks_8bit; }
};

// Keys of the query (dim floats) to every center, smaller is nearer
// (CoarseCenters).
inline void coarse_keys(const KernelTable& kernels, const CoarseCenters& coarse, std::size_t n_lists,
                        const float* query, Metric metric, float* keys) {
    kernels.column_keys(query, coarse.blocks.data(), metric == Metric::l2 ? coarse.half_norms.data() : nullptr, n_lists,
                        coarse.dim, keys);
}

// The `count` lists of least key, best first, into `best` ([count], Neighbor
// order: ties to the lower list, NaN last), in one pass that mostly compares
// a key with the worst kept. False, with nothing promised, when a key is NaN:
// the caller then sorts by Neighbor's full order.
inline bool least_keys(const float* keys, std::size_t n, std::size_t count, std::vector<Neighbor>& best) {
    best.clear();
    const auto keep = [&](std::size_t l) {
        const Neighbor candidate{keys[l], static_cast<std::int64_t>(l)};
        best.insert(std::upper_bound(best.begin(), best.end(), candidate), candidate);
    };
    std::size_t l = 0;
    for (; l < n && best.size() < count; ++l) {
        if (keys[l] != keys[l]) return false;
        keep(l);
    }
    float worst = best.empty() ? std::numeric_limits<float>::infinity() : best.back().key;
    const auto offer = [&](std::size_t at) {
        // A later list with an equal key has a higher id: it never beats the worst kept.
        if (!(keys[at] < worst)) return keys[at] == keys[at];
        best.pop_back();
        keep(at);
        worst = best.back().key;
        return true;
    };
    // Eight keys at a time: most eights hold no key below the worst kept
    // (nor a NaN), which one branchless test tells.
    for (; l + 8 <= n; l += 8) {
        bool any = false;
        for (std::size_t j = 0; j < 8; ++j) any |= !(keys[l + j] >= worst);
        if (!any) continue;
        for (std::size_t j = 0; j < 8; ++j)
            if (!offer(l + j)) return false;
    }
    for (; l < n; ++l)
        if (!offer(l)) return false;
    return true;
}

// All n lists into `order`, by Neighbor's full order (ties to the lower
// list, NaN last): the way out when least_keys meets a NaN key.
inline void all_by_key(const float* keys, std::size_t n, std::vector<Neighbor>& order) {
    order.resize(n);
    for (std::size_t l = 0; l < n; ++l) order[l] = Neighbor{keys[l], static_cast<std::int64_t>(l)};
    std::sort(order.begin(), order.end());
}

// The lists a query visits and how far, by rii's rule (see the top).
inline void plan_lists(const KernelTable& kernels, const float* query, const ListsView& view, std::size_t k,
                       std::size_t n_wanted, Metric metric, const TargetRows* targets, ListScanBuffers& buffers) {
    const std::size_t n_lists = view.n_lists;
    std::vector<Neighbor>& order = buffers.order;
    buffers.coarse.resize(n_lists);
    coarse_keys(kernels, *view.coarse, n_lists, query, metric, buffers.coarse.data());
    const std::size_t n_candidates = targets ? targets->n_rows : view.n_rows;
    const double share = static_cast<double>(n_wanted) * static_cast<double>(n_lists) /
                         static_cast<double>((std::max)(std::size_t{1}, n_candidates));
    const std::size_t w = (std::min)(n_lists, static_cast<std::size_t>(std::round(share)) + 3);
    buffers.plan.clear();
    // Most queries need few lists: the first stretch is picked in one pass
    // over the keys; a query that goes further sorts all lists by Neighbor's
    // order (the first stretch's order is the same).
    std::size_t sorted = (std::min)(n_lists, (std::max)(w, std::size_t{8})), taken = 0;
    if (!least_keys(buffers.coarse.data(), n_lists, sorted, order)) sorted = 0;
    for (std::size_t i = 0; i < n_lists; ++i) {
        if (i == sorted) {
            all_by_key(buffers.coarse.data(), n_lists, order);
            sorted = n_lists;
        }
        const std::size_t list = static_cast<std::size_t>(order[i].id);
        const std::size_t count =
            targets ? targets->first[list + 1] - targets->first[list] : view.lists[list].rows.size();
        if (taken + count >= n_wanted) {
            const std::size_t need = n_wanted - taken;
            if (need > 0)
                buffers.plan.push_back({list, targets ? targets->places[targets->first[list] + need - 1] + 1 : need});
            return;
        }
        if (count > 0) buffers.plan.push_back({list, view.lists[list].rows.size()});
        taken += count;
        if (i + 1 == w && taken >= k) return;
    }
}

// The ADC distance of rows [first, first + count) of a full block, as the
// kernel table's adist entry computes it for the same codes row-major
// (numpy's pairwise order, simd/scalar.hpp), read in place. kM > 0 fixes M
// at compile time, so the sum unrolls.
template <std::size_t kM, class Layout>
void adist_in_block(Layout, const float* table, std::size_t n_subspaces, std::size_t n_codewords,
                    const std::uint8_t* block, std::size_t first, std::size_t count, float* out) {
    const std::size_t M = kM != 0 ? kM : n_subspaces;
    for (std::size_t j = first; j < first + count; ++j) {
        const auto term = [&](std::size_t m) { return table[m * n_codewords + Layout::code_in_block(block, j, m)]; };
        if constexpr (kM != 0 && kM <= 128)
            out[j - first] = 0.0f + reference::pairwise_block(0, kM, term);
        else
            out[j - first] = reference::numpy_sum(M, term);
    }
}

template <class Layout>
void adist_in_block(Layout layout, const float* table, std::size_t M, std::size_t Ks, const std::uint8_t* block,
                    std::size_t first, std::size_t count, float* out) {
    switch (M) {
        case 8: return adist_in_block<8>(layout, table, M, Ks, block, first, count, out);
        case 16: return adist_in_block<16>(layout, table, M, Ks, block, first, count, out);
        case 32: return adist_in_block<32>(layout, table, M, Ks, block, first, count, out);
        case 64: return adist_in_block<64>(layout, table, M, Ks, block, first, count, out);
        default: return adist_in_block<0>(layout, table, M, Ks, block, first, count, out);
    }
}

// The distances of a list's places [first, first + count) offered to `top`
// under the names name(list, place, &name) gives (offer_places).
template <class Entry, class Namer>
void offer_named(Metric metric, const PostingListOf<Entry>& list, std::size_t first, std::size_t count,
                 const float* distances, const Namer& name, TopK& top) {
    for (std::size_t j = 0; j < count; ++j) {
        // The key first: the entry lies in memory the scan did not touch.
        const float key = key_of(metric, distances[j]);
        if (top.full() && top.bound() < key) continue;
        std::int64_t named;
        if (name(list, first + j, named)) top.offer(Neighbor{key, named});
    }
}

// Exact distances of a list's places [first, first + count), offered to
// `top` under the names name(list, place, &name) gives, which returns false
// for a place not to offer (a filter). A name is asked for only when the
// place's key can enter the top k: it may cost a read of memory the scan
// did not touch.
template <class Layout, class Entry, class Namer>
void offer_places(Layout layout, const float* table, std::size_t M, std::size_t Ks, Metric metric,
                  const PostingListOf<Entry>& list, std::size_t first, std::size_t count, const Namer& name,
                  ListScanBuffers& buffers, TopK& top) {
    const std::size_t rows_per_block = Layout::kRowsPerBlock, block_bytes = Layout::block_bytes(M);
    std::vector<float>& distances = buffers.distances;
    distances.resize(count);
    for (std::size_t done = 0; done < count;) {
        const std::size_t place = first + done;
        const std::size_t take = (std::min)(count - done, rows_per_block - place % rows_per_block);
        adist_in_block(layout, table, M, Ks, list.blocks.data() + place / rows_per_block * block_bytes,
                       place % rows_per_block, take, distances.data() + done);
        done += take;
    }
    offer_named(metric, list, first, count, distances.data(), name, top);
}

// offer_places for the n places listed (ascending): all their distances
// first, then the offers, so that the rows' table reads overlap instead of
// waiting behind each offer's branches (on 1M image patches, PQ32x8, about
// 60 places a query pass the fast scan).
template <class Layout, class Entry, class Namer>
void offer_places_at(Layout layout, const float* table, std::size_t M, std::size_t Ks, Metric metric,
                     const PostingListOf<Entry>& list, const std::size_t* places, std::size_t n, const Namer& name,
                     ListScanBuffers& buffers, TopK& top) {
    const std::size_t rows_per_block = Layout::kRowsPerBlock, block_bytes = Layout::block_bytes(M);
    std::vector<float>& distances = buffers.distances;
    distances.resize(n);
    for (std::size_t i = 0; i < n; ++i)
        adist_in_block(layout, table, M, Ks, list.blocks.data() + places[i] / rows_per_block * block_bytes,
                       places[i] % rows_per_block, 1, distances.data() + i);
    for (std::size_t i = 0; i < n; ++i) offer_named(metric, list, places[i], 1, distances.data() + i, name, top);
}

// The ids of n rows an index adds: `ids`, checked to be distinct and not
// present(id) already, or next_id, next_id + 1, ... when ids is null.
template <class Present>
std::vector<std::int64_t> ids_to_add(const std::int64_t* ids, std::size_t n, std::int64_t next_id,
                                     const Present& present) {
    std::vector<std::int64_t> new_ids(n);
    if (!ids) {
        require(n == 0 || next_id <= (std::numeric_limits<std::int64_t>::max)() - static_cast<std::int64_t>(n),
                "no ids are left after " + std::to_string(next_id));
        std::iota(new_ids.begin(), new_ids.end(), next_id);
        return new_ids;
    }
    std::copy_n(ids, n, new_ids.begin());
    std::vector<std::int64_t> sorted(new_ids);
    std::sort(sorted.begin(), sorted.end());
    const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
    if (repeated != sorted.end())
        throw std::invalid_argument("ids holds " + std::to_string(*repeated) + " more than once");
    for (std::size_t j = 0; j < n; ++j)
        if (present(ids[j]))
            throw std::invalid_argument("ids[" + std::to_string(j) + "] = " + std::to_string(ids[j]) +
                                        " is already in the index");
    return new_ids;
}

// Target places a list's scanned places must hold for the fast scan of its
// blocks to pay: below one in four, the target rows are read one by one.
inline constexpr std::size_t kDenseTargetShare = 4;

// Rows scanned exactly before the fast scan (one block of 8-bit codes):
// their k-th best key sets the range its levels cover (quantize_table's
// reach); fewer gave a looser bound and more rows to check, measured.
inline constexpr std::size_t kExactStartRows = 64;

// Rows scanned per query from which the fast scan beats the exact one: its
// table quantization costs about as much as Ks exact rows' look-ups.
inline std::size_t fast_scan_min_rows(std::size_t n_codewords) { return n_codewords; }

// The places the masks of `chunk` blocks from `first_block` flag (mask b at
// masks[b * stride]), those in [skip, end) only, ascending, into `passing`.
template <class Mask>
void passing_places(const Mask* masks, std::size_t stride, std::size_t chunk, std::size_t first_block,
                    std::size_t rows_per_block, std::size_t skip, std::size_t end, std::vector<std::size_t>& passing) {
    passing.clear();
    for (std::size_t b = 0; b < chunk; ++b)
        for (Mask mask = masks[b * stride]; mask != 0; mask &= mask - 1) {
            const std::size_t place = (first_block + b) * rows_per_block + lowest_bit(mask);
            if (place >= skip && place < end) passing.push_back(place);
        }
}

// The fast scan of the blocks that hold a list's first `places` places,
// with the table `quantized` put in buffers.lut: calls offer(passed, n)
// with the places in [skip, places) whose level sum may reach top's bound,
// ascending, a chunk of blocks at a time (the bound is read again as each
// chunk starts, so it tightens as offers fill `top`).
template <class Layout, class Entry, class Offer>
void scan_blocks(Layout layout, const KernelTable& kernels, const PostingListOf<Entry>& list, std::size_t places,
                 std::size_t skip, std::size_t M, const QuantizedTable& quantized, const TopK& top,
                 ListScanBuffers& buffers, const Offer& offer) {
    using Mask = typename Layout::Mask;
    const std::size_t rows_per_block = Layout::kRowsPerBlock, block_bytes = Layout::block_bytes(M);
    const std::size_t max_chunk = std::max<std::size_t>(1, kFastScanChunkRows / rows_per_block);
    std::vector<Mask>& mask_buffer = buffers.masks(layout);
    mask_buffer.resize(max_chunk);
    Mask* masks = mask_buffer.data();
    const std::size_t first_block = skip / rows_per_block, n_blocks = (places + rows_per_block - 1) / rows_per_block;
    // Chunks grow from one block: the first rows tighten the bound soonest.
    for (std::size_t block = first_block, chunk = 1; block < n_blocks;
         block += chunk, chunk = (std::min)(2 * chunk, max_chunk)) {
        chunk = (std::min)(chunk, n_blocks - block);
        const std::uint16_t threshold = quantized.bound(top.bound());
        (kernels.*Layout::kScan)(list.blocks.data() + block * block_bytes, chunk, M, buffers.lut.data(), 1, &threshold,
                                 masks);
        std::vector<std::size_t>& passing = buffers.passing;
        passing_places(masks, 1, chunk, block, rows_per_block, skip, places, passing);
        if (!passing.empty()) offer(static_cast<const std::size_t*>(passing.data()), passing.size());
    }
}

// One query's scan of its planned lists into `top`.
template <class Layout>
void scan_plan(Layout layout, const KernelTable& kernels, const float* table, const ListsView& view, Metric metric,
               const TargetRows* targets, ListScanBuffers& buffers, TopK& top) {
    const std::size_t M = view.n_subspaces, Ks = view.n_codewords;
    std::size_t n_places = 0;
    for (const ListSegment& segment : buffers.plan) n_places += segment.places;
    // Rows are named by themselves.
    const auto any_row = [](const PostingList& list, std::size_t place, std::int64_t& named) {
        named = static_cast<std::int64_t>(list.rows[place]);
        return true;
    };
    const auto target_row = [&](const PostingList& list, std::size_t place, std::int64_t& named) {
        named = static_cast<std::int64_t>(list.rows[place]);
        return targets->has(list.rows[place]);
    };
    QuantizedTable quantized;
    // The first k candidates of the first list, scanned exactly, give a key k
    // rows reach: the table's levels then cover only keys up to it
    // (quantize_table), which passes far fewer rows than levels over the
    // table's whole range.
    std::size_t first_done = 0;
    if (n_places >= fast_scan_min_rows(Ks) && has_fast_scan(kernels, Ks) && !buffers.plan.empty()) {
        const ListSegment& first = buffers.plan.front();
        const PostingList& list = view.lists[first.list];
        if (targets) {
            const std::uint32_t* places = targets->places.data() + targets->first[first.list];
            const std::uint32_t* end = targets->places.data() + targets->first[first.list + 1];
            for (; places < end && *places < first.places && !top.full(); ++places) first_done = *places + 1;
            if (first_done > 0)
                offer_places(layout, table, M, Ks, metric, list, 0, first_done, target_row, buffers, top);
        } else {
            first_done = (std::min)(first.places, (std::max)(top.capacity(), kExactStartRows));
            offer_places(layout, table, M, Ks, metric, list, 0, first_done, any_row, buffers, top);
        }
        buffers.lut.resize(Layout::lut_bytes(M));
        quantized = quantize_table(layout, table, M, Ks, metric, buffers.lut.data(), top.bound());
    }
    for (const ListSegment& segment : buffers.plan) {
        const PostingList& list = view.lists[segment.list];
        // Places the exact start above took (first segment only): skipped here.
        const std::size_t skip = &segment == &buffers.plan.front() ? first_done : 0;
        const std::uint32_t* target_places = nullptr;
        std::size_t n_targets = segment.places;
        if (targets) {
            target_places = targets->places.data() + targets->first[segment.list];
            const std::uint32_t* end = targets->places.data() + targets->first[segment.list + 1];
            n_targets = static_cast<std::size_t>(
                std::lower_bound(target_places, end, static_cast<std::uint32_t>(segment.places)) - target_places);
        }
        if (quantized.fast && n_targets * kDenseTargetShare >= segment.places) {
            scan_blocks(layout, kernels, list, segment.places, skip, M, quantized, top, buffers,
                        [&](const std::size_t* passed, std::size_t n) {
                            if (targets)
                                offer_places_at(layout, table, M, Ks, metric, list, passed, n, target_row, buffers,
                                                top);
                            else
                                offer_places_at(layout, table, M, Ks, metric, list, passed, n, any_row, buffers, top);
                        });
        } else if (targets) {
            for (std::size_t t = 0; t < n_targets; ++t)
                if (target_places[t] >= skip)
                    offer_places(layout, table, M, Ks, metric, list, target_places[t], 1, any_row, buffers, top);
        } else {
            offer_places(layout, table, M, Ks, metric, list, skip, segment.places - skip, any_row, buffers, top);
        }
    }
}

// Throws std::invalid_argument if a table made for query q holds infinity
// or NaN: a finite query far from the codewords can overflow float32, and
// every row would then tie.
inline void require_finite_table(const float* table, std::size_t size, std::size_t q) {
    std::uint32_t not_finite = 0;
    for (std::size_t i = 0; i < size; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, table + i, sizeof bits);
        not_finite |= static_cast<std::uint32_t>((bits & 0x7F800000u) == 0x7F800000u);
    }
    if (not_finite)
        throw std::invalid_argument("query " + std::to_string(q) +
                                    " is too large for float32 distance tables: its distances to the codewords "
                                    "overflow to infinity; scale the vectors (and the codewords) down");
}

// Query q's table ([M][Ks]) made by `maker`, refused (require_finite_table)
// if it overflowed: checked only when the magnitudes allow an overflow.
inline void make_checked_table(const KernelTable& kernels, const TableMaker& maker, const float* query, std::size_t q,
                               float* table) {
    maker.make(kernels, query, table);
    if (!maker.cannot_overflow(query)) require_finite_table(table, maker.table_size(), q);
}

// Queries a task of the list search takes: enough to spread a batch over
// the threads, few enough that one slow query does not hold the rest up.
inline constexpr std::size_t kListQueriesPerTask = 8;

// The top-k rows of each query among the candidates its lists give (see the
// top): queries [q][dim] rank the lists, tables [q][M][Ks] score the rows.
// out_rows[q][j] is a row of the view (-1 in an empty slot), best first.
// Each query is searched by one thread: results do not depend on the count.
// Tables may be null: then `maker` makes each query's table as its turn
// comes (no memory for a whole batch's tables), and a table that overflows
// float32 is refused.
inline void search_lists(const ListsView& view, const float* queries, const float* tables, const TableMaker& maker,
                         std::size_t n_queries, std::size_t k, std::size_t n_wanted, Metric metric,
                         const TargetRows* targets, std::int64_t* out_rows, float* out_distances, int num_threads) {
    const KernelTable& kernels = active_kernels();
    const std::size_t table_size = view.n_subspaces * view.n_codewords, dim = view.coarse->dim;
    const std::size_t n_tasks = (n_queries + kListQueriesPerTask - 1) / kListQueriesPerTask;
    const std::size_t work = n_queries * (view.n_lists + n_wanted) * view.n_subspaces;
    const int threads = threads_for(work, std::size_t{1} << 18, num_threads);
    parallel_for(n_tasks, threads, [&](std::size_t task) {
        ListScanBuffers buffers;
        TopK top(k);
        for (std::size_t q = task * kListQueriesPerTask; q < (std::min)(n_queries, (task + 1) * kListQueriesPerTask);
             ++q) {
            const float* table = tables ? tables + q * table_size : nullptr;
            if (!table) {
                buffers.table.resize(table_size);
                make_checked_table(kernels, maker, queries + q * dim, q, buffers.table.data());
                table = buffers.table.data();
            }
            plan_lists(kernels, queries + q * dim, view, k, n_wanted, metric, targets, buffers);
            top.clear();
            with_layout(view.n_codewords,
                        [&](auto layout) { scan_plan(layout, kernels, table, view, metric, targets, buffers, top); });
            top.write(metric, out_rows + q * k, out_distances + q * k);
        }
    });
}

}  // namespace nanopq_cpp::impl
