#pragma once
// Fast scan: exact top-k search over packed codes (packed_codes.hpp).
//
// Each query's float table is quantized to uint8 levels (one step per query,
// one offset per subspace), a SIMD kernel (simd/fast_scan_*.hpp) sums the
// levels of every row in 16 bits and flags the rows whose sum can still reach
// the current k-th best distance, and only those rows get their exact float
// distance from the kernel table's adist entry, as the search of unpacked
// codes computes it. The rounding bound below proves that no row of the true top-k is ever
// dropped, so the result is exactly search()'s (adc.hpp): the same ids and
// distances, ties to the lower id, for any thread count. Tables with NaN or
// infinity, and shapes whose sums could overflow, run the exact scan.

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adc.hpp"
#include "packed_layout.hpp"
#include "../common.hpp"
#include "simd/dispatch.hpp"
#include "threading.hpp"
#include "top_k.hpp"

namespace nanopq_cpp::impl {

// Index of the lowest set bit of a non-zero mask.
template <class Mask>
inline std::size_t lowest_bit(Mask mask) {
#if defined(__GNUC__) || defined(__clang__)
    return static_cast<std::size_t>(__builtin_ctzll(static_cast<unsigned long long>(mask)));
#else
    std::size_t bit = 0;
    while (!((mask >> bit) & 1)) ++bit;
    return bit;
#endif
}

// One query's quantized table, and what turns its running k-th best key into
// a bound on the level sums.
//
// Keys are key_of(metric, table entry) (negated for dot), so smaller is better, and
// a row's key is the float sum F of its M keys as the adist entry adds them
// (negating every term negates a float sum exactly). For subspace m let
// lo_m = min_k key[m][k], and let the level of entry x be
//     q(x) = min(levels, trunc(fl(fl(x - lo_m) * shrunk)))    (in float)
// where shrunk = fl(1 / step) * (1 - 2^-20). Each of the three roundings
// (the difference, the reciprocal, the product) is off by at most u = 2^-24
// relative and all are >= 0, so fl(...) <= (x - lo_m) / step * (1 + u)^3
// (1 - 2^-20) < (x - lo_m) / step: a level never overstates its entry,
//     x >= lo_m + step * q(x) - step * 1e-13
// (the 1e-13 is the margin of an earlier double-precision form, kept in the
// slack), and (x - lo_m) / step <= levels <= 255. In float, the loop over a
// table row vectorizes: it costs a tenth of the double division. A row with
// level sum Q and exact real key sum S = sum_m x_m then has
//     S >= B + step * Q - M * step * 1e-13,           B = sum_m lo_m,
// and its float sum F, whatever the order of additions, is within
// gamma * A of S (Higham, Accuracy and Stability of Numerical Algorithms,
// 2nd ed., eq. 4.4: gamma_{M-1} = (M-1)u / (1 - (M-1)u), u = 2^-24, for any
// summation order), with A = sum_m max_k |key[m][k]| >= sum_m |x_m|. So
//     F >= B + step * Q - slack,    slack >= gamma * A + M * step * 1e-13.
// If T is a key that k rows reach (the k-th best key seen so far), a row can
// be in the top k only if F <= T (ties at T are broken by id), hence only if
//     Q <= (T - B + slack) / step.
// The kernels keep the rows with Q <= floor of that (plus 1e-6 for the
// double arithmetic, which slack also covers with 1e-12 (A + |B|)); every
// key is at most A (1 + gamma) in magnitude, as are T, B and the partial
// sums, so when A is finite and far below FLT_MAX no sum overflows.
struct QuantizedTable {
    bool fast = false;  // false: NaN or infinity in the table, or an overflow risk
    double offset = 0.0;
    double step = 1.0;
    double slack = 0.0;
    double widen = 1.0;  // direct_table's: a key is scaled by it before the offset

    // The largest level sum a row may have and still reach key T.
    std::uint16_t bound(float key) const {
        if (!(key < std::numeric_limits<float>::infinity())) return 65535;
        const double levels = std::floor((static_cast<double>(key) * widen - offset + slack) / step + 1e-6);
        return static_cast<std::uint16_t>((std::min)(65535.0, (std::max)(0.0, levels)));
    }
};

// Quantizes one M x Ks table into `lut` (Layout's LUT layout,
// fast_scan_scalar.hpp). Leaves `fast` false when the table cannot be scanned
// this way.
//
// `reach`, when finite, is a key that k rows are known to reach (the k-th
// best of some rows): a row of the top k has M entries summing (above their
// floors) to at most reach - B, so the levels need not cover the whole
// range of an entry: they cover kReachShare / M of reach - B, and larger
// entries saturate at the top level, which still never overstates them (the
// level is below the entry). Finer steps pass fewer rows to the exact check.
// 12 / M of the reach an entry: the fewest rows passed on 1M image patches
// (PQ32x8, nlist 1024) among 1 to 32 (4: 20% more rows, 32: 80% more).
inline constexpr double kReachShare = 12.0;

template <class Layout>
QuantizedTable quantize_table(Layout, const float* table, std::size_t n_subspaces, std::size_t n_codewords,
                              Metric metric, std::uint8_t* lut, float reach = std::numeric_limits<float>::infinity()) {
    const KernelTable& kernels = active_kernels();
    QuantizedTable quantized;
    const std::size_t M = n_subspaces, Ks = n_codewords;
    // 16-bit sums: M * levels <= 65535. 4-bit LUT entries stay <= 127 so
    // kernels may add two in 8 bits (kMaxLevel4Bit, fast_scan_scalar.hpp).
    const std::size_t levels = std::min<std::size_t>(Layout::kMaxLevel, 65535 / M);
    if (levels == 0) return quantized;
    std::vector<double> lowest(M);
    double largest_range = 0.0, sum_largest = 0.0, offset = 0.0;
    const float sign = metric == Metric::dot ? -1.0f : 1.0f;  // key_of(metric, x) == sign * x exactly
    for (std::size_t m = 0; m < M; ++m) {
        const float* entries = table + m * Ks;
        float low, high;
        if (!kernels.key_range(entries, Ks, sign, &low, &high)) return quantized;
        lowest[m] = low;
        largest_range = (std::max)(largest_range, static_cast<double>(high) - low);
        sum_largest += (std::max)(std::fabs(low), std::fabs(high));
        offset += low;
    }
    if (!(sum_largest < 0.25 * FLT_MAX)) return quantized;
    double covered = largest_range;
    if (std::isfinite(reach) && static_cast<double>(reach) - offset > 0.0)
        covered = (std::min)(covered, (static_cast<double>(reach) - offset) * kReachShare / static_cast<double>(M));
    const double step = covered > 0.0 ? covered / static_cast<double>(levels) : 1.0;
    // A step below FLT_MIN would make its reciprocal infinite.
    if (!(step >= 1e-30)) return quantized;
    const float shrunk = static_cast<float>(1.0 / step) * (1.0f - 0x1.0p-20f);
    const int top_level = static_cast<int>(levels);
    std::fill(lut, lut + Layout::lut_bytes(M), std::uint8_t{0});
    for (std::size_t m = 0; m < M; ++m) {
        std::uint8_t* row = lut + Layout::lut_offset(m);
        kernels.key_levels(table + m * Ks, Ks, sign, static_cast<float>(lowest[m]), shrunk, top_level, row);
    }
    // gamma_{M-1} <= 1.01 M u while M u < 0.01 (M <= 65535 here).
    const double gamma = 1.01 * static_cast<double>(M) * std::ldexp(1.0, -24);
    quantized.fast = true;
    quantized.offset = offset;
    quantized.step = step;
    quantized.slack =
        gamma * sum_largest + static_cast<double>(M) * step * 1e-13 + 1e-12 * (sum_largest + std::fabs(offset));
    return quantized;
}

// Relative distance within which an l2 entry lies of the sum of squares it
// is the rounded square of the rounded root of: x = fl(fl(sqrt(s))^2) =
// s (1 + d1)^2 (1 + d2) with |d1|, |d2| <= u = 2^-24, so |x - s| <= 3.01 u s
// < 2^-21 s for a normal s.
inline constexpr double kSumsMargin = 0x1.0p-21;

// Levels for an l2 table made straight from the codewords, without the
// table (TableMaker::make_levels): level = min(top, trunc(fl(s * scale)))
// for each entry's sum of squares s, counted from 0 rather than from each
// row's least entry, so no pass over the table comes first. For a finite
// reach > 0 the step covers kReachShare / M of it, as quantize_table's.
//
// Why the bound holds (direct_table): scale = fl(1 / step * (1 - 2e))
// (1 - 2^-20) with e = kSumsMargin, so by the argument above (with lo = 0,
// where the difference is exact) a level is at most s (1 - 2e) / step,
// which is below x / step as x >= s (1 - e); below 2^-126, s / step < 1e-8
// gives level 0. So step * Q <= S = sum_m x_m for a row of level sum Q. l2
// entries are >= 0, so the float sum F of any order is >= S (1 - gamma)
// (Higham's bound with A = S), and a row with F <= T has
//     Q <= T / ((1 - gamma) step):
// direct_table's bound, with widen = 1 / (1 - gamma).
struct DirectLevels {
    double step = 1.0;
    float scale = 0.0f;
    int top = 0;  // 0: no levels (a reach not finite and > 0, or no level fits)

    bool usable() const { return top > 0 && step >= 1e-30; }
};

template <class Layout>
DirectLevels direct_levels(Layout, std::size_t n_subspaces, float reach) {
    DirectLevels levels;
    if (!(reach > 0.0f && reach < std::numeric_limits<float>::infinity())) return levels;
    const std::size_t M = n_subspaces;
    levels.top = static_cast<int>(std::min<std::size_t>(Layout::kMaxLevel, 65535 / M));
    const double covered = static_cast<double>(reach) * kReachShare / static_cast<double>(M);
    levels.step = covered / static_cast<double>((std::max)(levels.top, 1));
    levels.scale = static_cast<float>(1.0 / levels.step * (1.0 - 2.0 * kSumsMargin)) * (1.0f - 0x1.0p-20f);
    return levels;
}

// The bound of levels made by direct_levels for M subspaces.
inline QuantizedTable direct_table(std::size_t n_subspaces, const DirectLevels& levels) {
    QuantizedTable quantized;
    const double gamma = 1.01 * static_cast<double>(n_subspaces) * std::ldexp(1.0, -24);
    quantized.fast = true;
    quantized.step = levels.step;
    quantized.widen = 1.0 / (1.0 - gamma);
    quantized.slack = static_cast<double>(n_subspaces) * levels.step * 1e-13;
    return quantized;
}

// direct_levels for an l2 table already made, from its entries x (all
// finite and >= 0: squares) rather than their sums of squares: one pass
// (key_levels with lo = 0), no range. A level is trunc(fl(x * scale)) <=
// x (1 - 2e) / step < x / step, so direct_table's bound holds as it does
// for sums. `fast` false when reach is not finite and > 0.
template <class Layout>
QuantizedTable quantize_l2_table(Layout layout, const KernelTable& kernels, const float* table, std::size_t n_subspaces,
                                 std::size_t n_codewords, float reach, std::uint8_t* lut) {
    const DirectLevels levels = direct_levels(layout, n_subspaces, reach);
    if (!levels.usable()) return QuantizedTable{};
    std::fill(lut, lut + Layout::lut_bytes(n_subspaces), std::uint8_t{0});
    for (std::size_t m = 0; m < n_subspaces; ++m)
        kernels.key_levels(table + m * n_codewords, n_codewords, 1.0f, 0.0f, levels.scale, levels.top,
                           lut + Layout::lut_offset(m));
    return direct_table(n_subspaces, levels);
}

// The exact scan of packed codes for the queries listed, all rows or the
// rows `subset` lists: the engine of search() (adc.hpp), over rows unpacked a
// block at a time, so the same sums in the same order.
inline void exact_search_packed(const float* tables, const PackedCodesView& codes,
                                const std::vector<std::size_t>& queries, std::size_t k, Metric metric,
                                const std::int64_t* subset, std::size_t n_subset, std::int64_t* out_ids,
                                float* out_distances, int num_threads) {
    const std::size_t M = codes.n_subspaces;
    const auto rows = [&](std::size_t begin, std::size_t count, std::vector<std::uint8_t>& unpacked) {
        unpacked.resize(count * M);
        if (!subset) {
            unpack_rows(codes, begin, count, unpacked.data());
        } else {
            for (std::size_t j = 0; j < count; ++j)
                unpack_row(codes, static_cast<std::size_t>(subset[begin + j]), unpacked.data() + j * M);
        }
        return static_cast<const std::uint8_t*>(unpacked.data());
    };
    exact_top_k<std::uint8_t>(tables, queries.data(), queries.size(), M, codes.n_codewords,
                              subset ? n_subset : codes.n_rows, rows, subset, k, metric, out_ids, out_distances,
                              num_threads, queries.size());
}

// Bytes of codes in a fast-scan task, and queries per task: the codes of a
// task (256 KiB: 16384 rows for M = 32 at 4 bits or M = 16 at 8 bits) stay in
// L2 while every query of the group passes over them; the group's LUTs take
// about 64 KiB.
inline constexpr std::size_t kFastScanTaskBytes = 256 * 1024;
inline constexpr std::size_t kFastScanLutBytes = 64 * 1024;
// Rows per kernel call once a task is under way: the bounds tighten between
// calls. A task starts with one block and doubles, so few rows pass the
// loose bound of the first rows.
inline constexpr std::size_t kFastScanChunkRows = 1024;

// The fast scan of the listed queries over packed codes of one Layout, with
// the scan kernel of `kernels` (Layout::kScan).
template <class Layout>
void fast_search_packed(Layout, const KernelTable& kernels, const float* tables, const PackedCodesView& codes,
                        const std::vector<std::size_t>& queries, const std::vector<QuantizedTable>& quantized,
                        const std::vector<std::uint8_t>& luts, std::size_t k, Metric metric, std::int64_t* out_ids,
                        float* out_distances, int num_threads) {
    using Mask = typename Layout::Mask;
    const std::size_t lut_bytes = Layout::lut_bytes(codes.n_subspaces);
    const std::size_t M = codes.n_subspaces, Ks = codes.n_codewords, table_size = M * Ks;
    const std::size_t rows_per_block = codes.block_rows(), block_bytes = codes.block_bytes();
    const std::size_t n_full = codes.n_full_blocks();
    const std::size_t n_blocks = n_full + (codes.n_tail_rows() > 0 ? 1 : 0);
    const std::size_t task_blocks = std::max<std::size_t>(1, kFastScanTaskBytes / block_bytes);
    const std::size_t n_ranges = std::max<std::size_t>(1, (n_blocks + task_blocks - 1) / task_blocks);
    const std::size_t group_size = std::max<std::size_t>(4, kFastScanLutBytes / lut_bytes);
    const std::size_t n_queries = queries.size();
    const std::size_t n_groups = (n_queries + group_size - 1) / group_size;
    std::vector<std::uint8_t> tail_block;
    if (codes.n_tail_rows() > 0) {
        tail_block.resize(block_bytes);
        tail_as_block(codes, tail_block.data());
    }
    // One top-k per query, shared by all tasks: a task adds its candidates
    // under the query's lock (rare: few rows pass), and every task prunes
    // with the k-th best key of all rows checked so far, read without the
    // lock. The heap ends as the exact top-k of the rows added, which include
    // the true top-k, so the result is the same whichever task adds first.
    std::vector<TopK> best(n_queries, TopK(k));
    std::unique_ptr<std::mutex[]> best_lock(new std::mutex[n_queries]);
    std::unique_ptr<std::atomic<float>[]> best_bound(new std::atomic<float>[n_queries]);
    for (std::size_t i = 0; i < n_queries; ++i) best_bound[i].store(std::numeric_limits<float>::infinity());
    // A fast-scan look-up costs about a tenth of an exact one.
    const int threads = threads_for(codes.n_rows * n_queries * M / 10, std::size_t{1} << 20, num_threads);
    parallel_for(n_ranges * n_groups, threads, [&](std::size_t task) {
        const std::size_t range = task / n_groups, group = task % n_groups;
        const std::size_t first_query = group * group_size;
        const std::size_t group_queries = (std::min)(group_size, n_queries - first_query);
        const std::size_t first_block = range * task_blocks,
                          end_block = (std::min)(n_blocks, first_block + task_blocks);
        const std::size_t max_chunk = std::max<std::size_t>(1, kFastScanChunkRows / rows_per_block);
        std::vector<std::uint16_t> thresholds(group_queries);
        std::vector<Mask> masks((max_chunk * group_queries + 7) / 8 * 8, 0);
        std::vector<std::vector<std::size_t>> candidates(group_queries);  // rows to check exactly, per query
        std::vector<std::size_t> touched;                                 // queries with candidates
        std::vector<std::uint8_t> rows;
        std::vector<float> distances;
        std::size_t chunk = 1;
        for (std::size_t block = first_block; block < end_block;
             block += chunk, chunk = (std::min)(2 * chunk, max_chunk)) {
            chunk = (std::min)(chunk, end_block - block);
            // The tail block comes alone, from its padded copy.
            if (block < n_full) chunk = (std::min)(chunk, n_full - block);
            const std::uint8_t* data = block < n_full ? codes.block(block) : tail_block.data();
            for (std::size_t i = 0; i < group_queries; ++i) {
                const std::size_t query = first_query + i;
                thresholds[i] = quantized[query].bound(best_bound[query].load(std::memory_order_relaxed));
            }
            (kernels.*Layout::kScan)(data, chunk, M, luts.data() + first_query * lut_bytes, group_queries,
                                     thresholds.data(), masks.data());
            // Few masks are non-zero once the bounds are tight: find them in
            // one pass over the chunk's masks, and give each query its rows.
            touched.clear();
            const bool has_tail = (block + chunk) * rows_per_block > codes.n_rows;
            for (std::size_t index = 0; index < chunk * group_queries; ++index) {
                if (index % 8 == 0) {  // skip eight zero masks at a time (masks is padded to a multiple of 8)
                    Mask any = 0;
                    for (std::size_t j = 0; j < 8; ++j) any |= masks[index + j];
                    if (any == 0) {
                        index += 7;
                        continue;
                    }
                }
                Mask mask = masks[index];
                if (mask == 0) continue;
                const std::size_t b = index / group_queries, i = index % group_queries;
                const std::size_t first_row = (block + b) * rows_per_block;
                if (has_tail && first_row + rows_per_block > codes.n_rows)  // rows past the end are padding
                    mask &= (Mask{1} << (codes.n_rows - first_row)) - 1;
                if (candidates[i].empty() && mask != 0) touched.push_back(i);
                for (; mask != 0; mask &= mask - 1) candidates[i].push_back(first_row + lowest_bit(mask));
            }
            for (std::size_t i : touched) {
                const std::size_t query = first_query + i;
                std::vector<std::size_t>& rows_of_query = candidates[i];
                // Exact distances of the candidates, as the unpacked search computes them.
                rows.resize(rows_of_query.size() * M);
                distances.resize(rows_of_query.size());
                for (std::size_t c = 0; c < rows_of_query.size(); ++c)
                    unpack_row(codes, rows_of_query[c], rows.data() + c * M);
                kernels.adist_u8(tables + queries[query] * table_size, M, Ks, rows.data(), rows_of_query.size(),
                                 distances.data());
                {
                    std::lock_guard<std::mutex> lock(best_lock[query]);
                    TopK& top = best[query];
                    for (std::size_t c = 0; c < rows_of_query.size(); ++c)
                        top.offer(Neighbor{key_of(metric, distances[c]), static_cast<std::int64_t>(rows_of_query[c])});
                    if (top.full()) best_bound[query].store(top.bound(), std::memory_order_relaxed);
                }
                rows_of_query.clear();
            }
        }
    });
    write_merged(best, 1, queries.data(), n_queries, k, metric, out_ids, out_distances);
}

// Whether packed codes of Ks codewords get the fast scan with `kernels`: at
// the scalar level (its kernels are the portable ones), and where the level
// has a kernel of its own for the width. Elsewhere the portable kernel would
// be no faster than the exact scan, which runs instead.
inline bool has_fast_scan(const KernelTable& kernels, std::size_t n_codewords) {
    if (kernels.level == SimdLevel::scalar) return true;
    return with_layout(n_codewords, [&](auto layout) { return has_scan_kernel(layout, kernels); });
}

// What packed codes of Ks codewords run at the level of `kernels`, for
// show_config(): the fast scan, or the exact scan and why.
inline std::string fast_scan_path(const KernelTable& kernels, std::size_t n_codewords) {
    const std::string level = simd_level_name(kernels.level);
    if (has_fast_scan(kernels, n_codewords)) return "fast scan (" + level + ")";
    return with_layout(n_codewords, [&](auto layout) { return layout.missing_kernel(level); });
}

// Top-k search over packed codes, with the contract of search() (adc.hpp):
// for each of n_queries tables ([q][M][Ks]), the k rows with the smallest l2
// or largest inner-product distance, best first, ties to the lower id; the
// same ids and distances search() gives for the unpacked codes. `subset`
// (optional) restricts the search to those rows, by the exact scan. Missing
// slots get id -1 and distance +inf (l2) or -inf (dot). `kernels` defaults
// to the active SIMD level's.
inline void search_packed(const float* tables, std::size_t n_queries, const PackedCodesView& codes, std::size_t k,
                          Metric metric, const std::int64_t* subset, std::size_t n_subset, std::int64_t* out_ids,
                          float* out_distances, int num_threads = 0, const KernelTable* kernels = nullptr) {
    const std::size_t M = codes.n_subspaces, Ks = codes.n_codewords;
    require(M > 0 && Ks > 0, "the distance table must have M > 0 rows and Ks > 0 columns");
    require(k > 0, "topk must be positive");
    require(n_queries == 0 || (tables && out_ids && out_distances), "search needs tables and output buffers");
    require(codes.n_rows == 0 || codes.data, "packed codes are missing");
    if (subset) check_subset(subset, n_subset, codes.n_rows);
    const KernelTable& table = kernels ? *kernels : active_kernels();
    with_layout(Ks, [&](auto layout) {
        using Layout = decltype(layout);
        std::vector<std::size_t> exact_queries, fast_queries;
        std::vector<QuantizedTable> quantized;
        std::vector<std::uint8_t> luts;
        const std::size_t lut_bytes = Layout::lut_bytes(M);
        const bool fast = !subset && codes.n_rows > 0 && has_fast_scan(table, Ks);
        std::vector<std::uint8_t> lut(lut_bytes);
        for (std::size_t q = 0; q < n_queries; ++q) {
            QuantizedTable quantized_table;
            if (fast) quantized_table = quantize_table(layout, tables + q * M * Ks, M, Ks, metric, lut.data());
            if (!quantized_table.fast) {
                exact_queries.push_back(q);
                continue;
            }
            fast_queries.push_back(q);
            quantized.push_back(quantized_table);
            luts.insert(luts.end(), lut.begin(), lut.end());
        }
        if (!exact_queries.empty())
            exact_search_packed(tables, codes, exact_queries, k, metric, subset, n_subset, out_ids, out_distances,
                                num_threads);
        if (!fast_queries.empty())
            fast_search_packed(layout, table, tables, codes, fast_queries, quantized, luts, k, metric, out_ids,
                               out_distances, num_threads);
    });
}

// Distances from n_queries tables ([q][M][Ks]) to every row of packed codes:
// out[q][i], the values adist() (adc.hpp) gives for the unpacked codes.
inline void adist_packed(const float* tables, std::size_t n_queries, const PackedCodesView& codes, float* out,
                         int num_threads = 0) {
    const std::size_t M = codes.n_subspaces, Ks = codes.n_codewords, n = codes.n_rows;
    require(M > 0 && Ks > 0, "the distance table must have M > 0 rows and Ks > 0 columns");
    require(n == 0 || n_queries == 0 || (tables && codes.data && out), "adist needs input and output buffers");
    const std::size_t n_blocks = (n + kScanBlock - 1) / kScanBlock;
    const int threads = threads_for(n * n_queries * M, std::size_t{1} << 20, num_threads);
    const KernelTable& kernels = active_kernels();
    parallel_for(n_blocks, threads, [&](std::size_t block) {
        const std::size_t begin = block * kScanBlock, count = (std::min)(kScanBlock, n - begin);
        std::vector<std::uint8_t> rows(count * M);
        unpack_rows(codes, begin, count, rows.data());
        for (std::size_t q = 0; q < n_queries; ++q)
            kernels.adist_u8(tables + q * M * Ks, M, Ks, rows.data(), count, out + q * n + begin);
    });
}

}  // namespace nanopq_cpp::impl
