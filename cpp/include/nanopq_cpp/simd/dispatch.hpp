#pragma once
// One table of kernel pointers per SIMD level; callers fetch the active table
// once per call (never per element) and run its kernels.

#include <cstddef>
#include <cstdint>

#include "avx2.hpp"
#include "avx512.hpp"
#include "fast_scan_avx2.hpp"
#include "fast_scan_avx512.hpp"
#include "fast_scan_neon.hpp"
#include "fast_scan_scalar.hpp"
#include "level.hpp"
#include "neon.hpp"
#include "scalar.hpp"

namespace nanopq_cpp {

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
    // out (dim x dim) += x^T y over `rows` rows (OPQ's cross-correlation).
    void (*cross_accumulate)(const float* x, const float* y, std::size_t rows, std::size_t dim, float* out);
    // Fast scan of packed codes (fast_scan_scalar.hpp states the contract);
    // null where the level has no such kernel and the packed search runs the
    // exact scan instead.
    void (*scan_4bit)(const std::uint8_t* blocks, std::size_t n_blocks, std::size_t n_pairs, const std::uint8_t* luts,
                      std::size_t n_queries, const std::uint16_t* thresholds, std::uint32_t* masks);
    void (*scan_8bit)(const std::uint8_t* blocks, std::size_t n_blocks, std::size_t n_subspaces,
                      const std::uint8_t* luts, std::size_t n_queries, const std::uint16_t* thresholds,
                      std::uint64_t* masks);
};

inline const KernelTable& kernels_for(SimdLevel level) {
    static const KernelTable scalar_table{SimdLevel::scalar,
                                          &reference::nearest_codeword,
                                          &reference::nearest_codeword_by_norms,
                                          &reference::cross_accumulate,
                                          &reference::scan_4bit,
                                          &reference::scan_8bit};
#if defined(NANOPQ_CPP_X86)
    static const KernelTable avx2_table{
        SimdLevel::avx2,         &avx2::nearest_codeword, &avx2::nearest_codeword_by_norms,
        &avx2::cross_accumulate, &avx2::scan_4bit,        nullptr};
    // The 8-bit kernel needs AVX-512 VBMI on top of the level's F + BW.
    static const KernelTable avx512_table{
        SimdLevel::avx512,       &avx512::nearest_codeword, &avx512::nearest_codeword_by_norms,
        &avx2::cross_accumulate, &avx512::scan_4bit,        simd_vbmi_supported() ? &avx512::scan_8bit : nullptr};
    if (level == SimdLevel::avx512 && simd_level_supported(level)) return avx512_table;
    if (level == SimdLevel::avx2 && simd_level_supported(level)) return avx2_table;
#endif
#if defined(NANOPQ_CPP_ARM64)
    static const KernelTable neon_table{SimdLevel::neon,
                                        &neon::nearest_codeword,
                                        &reference::nearest_codeword_by_norms,
                                        &reference::cross_accumulate,
                                        &neon::scan_4bit,
                                        nullptr};
    if (level == SimdLevel::neon) return neon_table;
#endif
    return scalar_table;
}

// The kernels of the level in force (get_simd_level()).
inline const KernelTable& active_kernels() { return kernels_for(get_simd_level()); }

}  // namespace nanopq_cpp
