#pragma once
// One table of kernel pointers per SIMD level; callers fetch the active table
// once per call (never per element) and run its kernels.

#include <cstddef>
#include <cstdint>

#include "avx2.hpp"
#include "avx512.hpp"
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
};

inline const KernelTable& kernels_for(SimdLevel level) {
    static const KernelTable scalar_table{SimdLevel::scalar, &reference::nearest_codeword,
                                          &reference::nearest_codeword_by_norms, &reference::cross_accumulate};
#if defined(NANOPQ_CPP_X86)
    static const KernelTable avx2_table{SimdLevel::avx2, &avx2::nearest_codeword, &avx2::nearest_codeword_by_norms,
                                        &avx2::cross_accumulate};
    static const KernelTable avx512_table{SimdLevel::avx512, &avx512::nearest_codeword,
                                          &avx512::nearest_codeword_by_norms, &avx2::cross_accumulate};
    if (level == SimdLevel::avx512 && simd_level_supported(level)) return avx512_table;
    if (level == SimdLevel::avx2 && simd_level_supported(level)) return avx2_table;
#endif
#if defined(NANOPQ_CPP_ARM64)
    static const KernelTable neon_table{SimdLevel::neon, &neon::nearest_codeword, &reference::nearest_codeword_by_norms,
                                        &reference::cross_accumulate};
    if (level == SimdLevel::neon) return neon_table;
#endif
    return scalar_table;
}

// The kernels of the level in force (get_simd_level()).
inline const KernelTable& active_kernels() { return kernels_for(get_simd_level()); }

}  // namespace nanopq_cpp
