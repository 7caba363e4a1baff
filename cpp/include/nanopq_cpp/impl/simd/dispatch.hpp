#pragma once
// The kernel table: every hot loop of the core, with one row per SIMD level.
// Callers fetch the active row once per call (never per element).
//
// Each entry's portable version lives in namespace reference (scalar.hpp and
// fast_scan_scalar.hpp) and fills the scalar row; every other row starts as a
// copy of it and overrides the entries that level speeds up, so an entry a
// level leaves alone runs the portable code there. tests/cpp/test_kernels.cpp
// runs every entry of every supported row against the scalar row.
//
//   Python                      C++ caller                       entry
//   PQ.encode                   pq.hpp encode                    nearest_codeword
//   PQ.fit (k-means steps)      kmeans.hpp                       nearest_codeword_by_norms
//   PQ.dtable, metric 'l2'      pq.hpp distance_tables           l2_table
//   (C++ only, metric 'dot')    pq.hpp distance_tables           dot_table
//   DistanceTable.adist         adc.hpp adist                    adist_u8 / adist_u16 / adist_u32
//   DistanceTable.search        adc.hpp search                   adist_*, then first_at_most / first_at_least
//   OPQ.fit                     opq.hpp cross_correlation        cross_accumulate
//   DistanceTable.search(packed) fast_scan.hpp search_packed     scan_4bit / scan_8bit
//
// Portable at every level, on purpose:
// - adist_*: two loads per term bound the scan; AVX2/AVX-512 gathers measured
//   75-95 M codes/s against the portable loop's 250-300 M at M=16.
// - dot_table: Python computes 'dot' tables with numpy (docs/exactness.md);
//   this serves native callers, where a table costs little next to a scan.

#include <cstddef>
#include <cstdint>

#include "avx2.hpp"
#include "avx512.hpp"
#include "drivers.hpp"
#include "fast_scan_avx2.hpp"
#include "fast_scan_avx512.hpp"
#include "fast_scan_neon.hpp"
#include "fast_scan_scalar.hpp"
#include "level.hpp"
#include "neon.hpp"
#include "scalar.hpp"

namespace nanopq_cpp::impl {

// The signature of both fast-scan kernels: they take M and differ in the
// mask type only (a bit a row of a block).
template <class Mask>
using ScanKernel = void (*)(const std::uint8_t* blocks, std::size_t n_blocks, std::size_t M, const std::uint8_t* luts,
                            std::size_t n_queries, const std::uint16_t* thresholds, Mask* masks);

struct KernelTable {
    SimdLevel level;
    // For each of n_points sub-vectors (row stride `stride`): the nearest of
    // n_codewords codewords in [dim][n_codewords] layout, and its squared l2
    // distance (distances may be null).
    void (*nearest_codeword)(const float* points, std::size_t n_points, std::size_t stride, const float* codewords_t,
                             std::size_t n_codewords, std::size_t dim, std::uint32_t* labels, float* distances);
    // The same search through ||c||^2 - 2 x.c with norms[k] = ||c_k||^2; for
    // k-means, where a rare near-tie flip does not matter.
    void (*nearest_codeword_by_norms)(const float* points, std::size_t n_points, std::size_t stride,
                                      const float* codewords_t, const float* norms, std::size_t n_codewords,
                                      std::size_t dim, std::uint32_t* labels, float* distances);
    // One row of a distance table from a sub-vector to n_codewords codewords
    // ([Ks][Ds] layout): nanopq's l2 entries to the bit, and inner products.
    void (*l2_table)(const float* query, const float* codewords, std::size_t n_codewords, std::size_t dim, float* out);
    void (*dot_table)(const float* query, const float* codewords, std::size_t n_codewords, std::size_t dim, float* out);
    // l2_table's entries for Ds < 8 from codewords in [Ds][Ks] layout, which
    // SIMD reads a column at a time.
    void (*l2_table_columns)(const float* query, const float* columns, std::size_t n_codewords, std::size_t dim,
                             float* out);
    // Fast-scan levels of l2_table_columns' entries from their sums of
    // squares, in one pass (fast_scan.hpp direct_levels).
    void (*l2_levels_columns)(const float* query, const float* columns, std::size_t n_codewords, std::size_t dim,
                              float scale, int top, std::uint8_t* out);
    // Negated products of a query with n columns (blocks of 32), the same
    // bits at every level: an index's ranking of its lists.
    void (*column_keys)(const float* query, const float* blocks, const float* starts, std::size_t n, std::size_t dim,
                        float* out);
    // A table row's range and levels for the fast scan (fast_scan.hpp
    // quantize_table); the same results at every level.
    bool (*key_range)(const float* values, std::size_t n, float sign, float* low, float* high);
    void (*key_levels)(const float* values, std::size_t n, float sign, float low, float scale, int top,
                       std::uint8_t* out);
    // ADC distances of n codes from one table, for each code width.
    void (*adist_u8)(const float* table, std::size_t n_subspaces, std::size_t n_codewords, const std::uint8_t* codes,
                     std::size_t n, float* out);
    void (*adist_u16)(const float* table, std::size_t n_subspaces, std::size_t n_codewords, const std::uint16_t* codes,
                      std::size_t n, float* out);
    void (*adist_u32)(const float* table, std::size_t n_subspaces, std::size_t n_codewords, const std::uint32_t* codes,
                      std::size_t n, float* out);
    // The first index whose value is <= bound (>= bound), or count.
    std::size_t (*first_at_most)(const float* values, std::size_t count, float bound);
    std::size_t (*first_at_least)(const float* values, std::size_t count, float bound);
    // out (dim x dim) += x^T y over `rows` rows (OPQ's cross-correlation).
    void (*cross_accumulate)(const float* x, const float* y, std::size_t rows, std::size_t dim, float* out);
    // Fast scan of packed 4-bit and 8-bit blocks (fast_scan_scalar.hpp states
    // the contract). Where a level other than scalar keeps the portable one
    // (8 bits without AVX-512 VBMI), the packed search runs the exact scan,
    // which is as fast there (fast_scan.hpp has_fast_scan).
    ScanKernel<std::uint32_t> scan_4bit;
    ScanKernel<std::uint64_t> scan_8bit;
};

inline KernelTable portable_kernels() {
    KernelTable table{};
    table.level = SimdLevel::scalar;
    table.nearest_codeword = &reference::nearest_codeword;
    table.nearest_codeword_by_norms = &reference::nearest_codeword_by_norms;
    table.l2_table = &reference::l2_to_codewords;
    table.l2_table_columns = &reference::l2_to_columns;
    table.l2_levels_columns = &reference::l2_levels_columns;
    table.column_keys = &reference::column_keys;
    table.key_range = &reference::key_range;
    table.key_levels = &reference::key_levels;
    table.dot_table = &reference::dot_to_codewords;
    table.adist_u8 = &reference::adist<std::uint8_t>;
    table.adist_u16 = &reference::adist<std::uint16_t>;
    table.adist_u32 = &reference::adist<std::uint32_t>;
    table.first_at_most = &reference::first_within<false>;
    table.first_at_least = &reference::first_within<true>;
    table.cross_accumulate = &reference::cross_accumulate;
    table.scan_4bit = &reference::scan_4bit;
    table.scan_8bit = &reference::scan_8bit;
    return table;
}

#if defined(NANOPQ_CPP_X86)
inline KernelTable avx2_kernels() {
    KernelTable table = portable_kernels();
    table.level = SimdLevel::avx2;
    table.nearest_codeword = &nearest_codeword_with<avx2::Nearest>;
    table.nearest_codeword_by_norms = &nearest_codeword_by_norms_with<avx2::Nearest>;
    table.l2_table = &avx2::l2_to_codewords;
    table.l2_table_columns = &avx2::l2_to_columns;
    table.l2_levels_columns = &avx2::l2_levels_columns;
    table.column_keys = &avx2::column_keys;
    table.key_range = &avx2::key_range;
    table.key_levels = &avx2::key_levels;
    table.first_at_most = &avx2::first_within<false>;
    table.first_at_least = &avx2::first_within<true>;
    table.cross_accumulate = &avx2::cross_accumulate;
    table.scan_4bit = &scan_with<avx2::Scan4Bit, avx2::kScanQueries>;
    return table;
}

// AVX-512 has its own nearest-codeword and 4-bit fast-scan kernels, and the
// 8-bit fast scan where the CPU has VBMI; the rest run AVX2's code.
inline KernelTable avx512_kernels() {
    KernelTable table = avx2_kernels();
    table.level = SimdLevel::avx512;
    if (simd_vbmi_supported()) table.scan_8bit = &scan_with<avx512::Scan8Bit, avx512::kScan8BitQueries>;
    // AMD's Zen 4 runs 512-bit operations as two 256-bit halves: there the
    // AVX-512 encoder measured 15% slower than AVX2's (0.38 s against 0.32 s
    // for 200k x 128 floats, M=16), so AMD keeps the AVX2 kernels but for the
    // 8-bit fast scan, which only VBMI's byte permutes make possible.
    if (detect_x86().amd) return table;
    table.nearest_codeword = &nearest_codeword_with<avx512::Nearest>;
    table.nearest_codeword_by_norms = &nearest_codeword_by_norms_with<avx512::Nearest>;
    table.scan_4bit = &scan_with<avx512::Scan4Bit, avx512::kScan4BitQueries>;
    return table;
}
#endif

#if defined(NANOPQ_CPP_ARM64)
inline KernelTable neon_kernels() {
    KernelTable table = portable_kernels();
    table.level = SimdLevel::neon;
    table.nearest_codeword = &neon::nearest_codeword;
    table.first_at_most = &neon::first_within<false>;
    table.first_at_least = &neon::first_within<true>;
    table.scan_4bit = &scan_with<neon::Scan4Bit, neon::kScanQueries>;
    return table;
}
#endif

// The row of `level`; the scalar row for a level this CPU or build lacks.
inline const KernelTable& kernels_for(SimdLevel level) {
    static const KernelTable scalar_table = portable_kernels();
#if defined(NANOPQ_CPP_X86)
    static const KernelTable avx2_table = avx2_kernels();
    static const KernelTable avx512_table = avx512_kernels();
    if (level == SimdLevel::avx512 && simd_level_supported(level)) return avx512_table;
    if (level == SimdLevel::avx2 && simd_level_supported(level)) return avx2_table;
#endif
#if defined(NANOPQ_CPP_ARM64)
    static const KernelTable neon_table = neon_kernels();
    if (level == SimdLevel::neon) return neon_table;
#endif
    return scalar_table;
}

// The kernels of the level in force (get_simd_level()).
inline const KernelTable& active_kernels() { return kernels_for(get_simd_level()); }

// The adist entry for code_t.
inline auto adist_kernel(const KernelTable& table, const std::uint8_t*) { return table.adist_u8; }
inline auto adist_kernel(const KernelTable& table, const std::uint16_t*) { return table.adist_u16; }
inline auto adist_kernel(const KernelTable& table, const std::uint32_t*) { return table.adist_u32; }

}  // namespace nanopq_cpp::impl
