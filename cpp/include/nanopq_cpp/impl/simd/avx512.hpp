#pragma once
// AVX-512 (F + BW) kernels, compiled with per-function target attributes.

#include "drivers.hpp"
#include "level.hpp"
#include "scalar.hpp"

#if defined(NANOPQ_CPP_X86)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#if defined(__GNUC__) || defined(__clang__)
#define NANOPQ_CPP_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx2,fma")))
#else
#define NANOPQ_CPP_TARGET_AVX512
#endif

namespace nanopq_cpp::impl {
namespace avx512 {

// Codewords per block: two 16-lane accumulators per point.
inline constexpr std::size_t kBlock = 32;

// As avx2::Nearest, with 16 lanes and mask registers for the argmin.
struct Nearest {
    template <int kPoints, bool kByNorms, std::size_t kDim>
    NANOPQ_CPP_TARGET_AVX512 static void nearest(const float* const* points, const float* codewords_t,
                                                 const float* norms, std::size_t n_codewords, std::size_t dim,
                                                 std::uint32_t* labels, float* distances) {
        __m512 best[kPoints];
        __m512i best_index[kPoints];
        for (int p = 0; p < kPoints; ++p) {
            best[p] = _mm512_set1_ps(std::numeric_limits<float>::infinity());
            best_index[p] = _mm512_setzero_si512();
        }
        const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __m512i sixteen = _mm512_set1_epi32(16);
        std::size_t k0 = 0;
        for (; k0 + kBlock <= n_codewords; k0 += kBlock) {
            __m512 low[kPoints], high[kPoints];
            // By norms: ||c||^2 - 2 x.c, one FMA per term; else (c - x)^2 summed.
            const __m512 start_low = kByNorms ? _mm512_loadu_ps(norms + k0) : _mm512_setzero_ps();
            const __m512 start_high = kByNorms ? _mm512_loadu_ps(norms + k0 + 16) : _mm512_setzero_ps();
            for (int p = 0; p < kPoints; ++p) {
                low[p] = start_low;
                high[p] = start_high;
            }
            for (std::size_t d = 0; d < (kDim != 0 ? kDim : dim); ++d) {
                const float* row = codewords_t + d * n_codewords + k0;
                const __m512 row_low = _mm512_loadu_ps(row), row_high = _mm512_loadu_ps(row + 16);
                for (int p = 0; p < kPoints; ++p) {
                    if (kByNorms) {
                        const __m512 minus_two_x = _mm512_set1_ps(-2.0f * points[p][d]);
                        low[p] = _mm512_fmadd_ps(row_low, minus_two_x, low[p]);
                        high[p] = _mm512_fmadd_ps(row_high, minus_two_x, high[p]);
                    } else {
                        const __m512 x = _mm512_set1_ps(points[p][d]);
                        const __m512 diff_low = _mm512_sub_ps(row_low, x), diff_high = _mm512_sub_ps(row_high, x);
                        low[p] = _mm512_fmadd_ps(diff_low, diff_low, low[p]);
                        high[p] = _mm512_fmadd_ps(diff_high, diff_high, high[p]);
                    }
                }
            }
            const __m512i index_low = _mm512_add_epi32(lanes, _mm512_set1_epi32(static_cast<int>(k0)));
            const __m512i index_high = _mm512_add_epi32(index_low, sixteen);
            for (int p = 0; p < kPoints; ++p) {
                __mmask16 closer = _mm512_cmp_ps_mask(low[p], best[p], _CMP_LT_OQ);
                best[p] = _mm512_mask_mov_ps(best[p], closer, low[p]);
                best_index[p] = _mm512_mask_mov_epi32(best_index[p], closer, index_low);
                closer = _mm512_cmp_ps_mask(high[p], best[p], _CMP_LT_OQ);
                best[p] = _mm512_mask_mov_ps(best[p], closer, high[p]);
                best_index[p] = _mm512_mask_mov_epi32(best_index[p], closer, index_high);
            }
        }
        for (int p = 0; p < kPoints; ++p) {
            alignas(64) float lane_best[16];
            alignas(64) std::uint32_t lane_index[16];
            _mm512_store_ps(lane_best, best[p]);
            _mm512_store_si512(reinterpret_cast<void*>(lane_index), best_index[p]);
            reference::finish_nearest<kByNorms>(lane_best, lane_index, 16, points[p], codewords_t, norms, k0,
                                                n_codewords, dim, labels + p, distances ? distances + p : nullptr);
        }
    }
    NANOPQ_CPP_NEAREST_GROUPS(NANOPQ_CPP_TARGET_AVX512)
};

}  // namespace avx512
}  // namespace nanopq_cpp::impl

#endif  // NANOPQ_CPP_X86
