#pragma once
// AVX2 + FMA kernels, compiled with per-function target attributes so the
// rest of the binary stays baseline x86-64.

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
#define NANOPQ_CPP_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define NANOPQ_CPP_TARGET_AVX2
#endif

namespace nanopq_cpp::impl {
namespace avx2 {

// Codewords per block: two 8-lane accumulators per point.
inline constexpr std::size_t kBlock = 16;

// The nearest-codeword body (drivers.hpp nearest_codeword_with): kPoints
// points at once, each codeword load shared by the points, and the argmin
// kept per lane (value and index) so no distance row is ever stored. Lanes
// keep their first minimum (strict <) and the final reduction breaks ties by
// the lower index: the scalar reference's answer. kByNorms: ||c||^2 - 2 x.c
// with precomputed norms, half the arithmetic, for k-means on centred data;
// else the exact (c - x)^2 summed, the encoder's.
struct Nearest {
    template <int kPoints, bool kByNorms, std::size_t kDim>
    NANOPQ_CPP_TARGET_AVX2 static void nearest(const float* const* points, const float* codewords_t, const float* norms,
                                               std::size_t n_codewords, std::size_t dim, std::uint32_t* labels,
                                               float* distances) {
        __m256 best[kPoints];
        __m256i best_index[kPoints];
        for (int p = 0; p < kPoints; ++p) {
            best[p] = _mm256_set1_ps(std::numeric_limits<float>::infinity());
            best_index[p] = _mm256_setzero_si256();
        }
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i eight = _mm256_set1_epi32(8);
        std::size_t k0 = 0;
        for (; k0 + kBlock <= n_codewords; k0 += kBlock) {
            __m256 low[kPoints], high[kPoints];
            // By norms: ||c||^2 - 2 x.c, one FMA per term; else (c - x)^2 summed.
            const __m256 start_low = kByNorms ? _mm256_loadu_ps(norms + k0) : _mm256_setzero_ps();
            const __m256 start_high = kByNorms ? _mm256_loadu_ps(norms + k0 + 8) : _mm256_setzero_ps();
            for (int p = 0; p < kPoints; ++p) {
                low[p] = start_low;
                high[p] = start_high;
            }
            for (std::size_t d = 0; d < (kDim != 0 ? kDim : dim); ++d) {
                const float* row = codewords_t + d * n_codewords + k0;
                const __m256 row_low = _mm256_loadu_ps(row), row_high = _mm256_loadu_ps(row + 8);
                for (int p = 0; p < kPoints; ++p) {
                    if (kByNorms) {
                        const __m256 minus_two_x = _mm256_set1_ps(-2.0f * points[p][d]);
                        low[p] = _mm256_fmadd_ps(row_low, minus_two_x, low[p]);
                        high[p] = _mm256_fmadd_ps(row_high, minus_two_x, high[p]);
                    } else {
                        const __m256 x = _mm256_broadcast_ss(points[p] + d);
                        const __m256 diff_low = _mm256_sub_ps(row_low, x), diff_high = _mm256_sub_ps(row_high, x);
                        low[p] = _mm256_fmadd_ps(diff_low, diff_low, low[p]);
                        high[p] = _mm256_fmadd_ps(diff_high, diff_high, high[p]);
                    }
                }
            }
            const __m256i index_low = _mm256_add_epi32(lanes, _mm256_set1_epi32(static_cast<int>(k0)));
            const __m256i index_high = _mm256_add_epi32(index_low, eight);
            for (int p = 0; p < kPoints; ++p) {
                __m256 closer = _mm256_cmp_ps(low[p], best[p], _CMP_LT_OQ);
                best[p] = _mm256_blendv_ps(best[p], low[p], closer);
                best_index[p] = _mm256_blendv_epi8(best_index[p], index_low, _mm256_castps_si256(closer));
                closer = _mm256_cmp_ps(high[p], best[p], _CMP_LT_OQ);
                best[p] = _mm256_blendv_ps(best[p], high[p], closer);
                best_index[p] = _mm256_blendv_epi8(best_index[p], index_high, _mm256_castps_si256(closer));
            }
        }
        for (int p = 0; p < kPoints; ++p) {
            alignas(32) float lane_best[8];
            alignas(32) std::uint32_t lane_index[8];
            _mm256_store_ps(lane_best, best[p]);
            _mm256_store_si256(reinterpret_cast<__m256i*>(lane_index), best_index[p]);
            reference::finish_nearest<kByNorms>(lane_best, lane_index, 8, points[p], codewords_t, norms, k0,
                                                n_codewords, dim, labels + p, distances ? distances + p : nullptr);
        }
    }
    NANOPQ_CPP_NEAREST_GROUPS(NANOPQ_CPP_TARGET_AVX2)
};

// reference::cross_accumulate compiled for AVX2 + FMA: the same loops, which
// the compiler vectorises over b with 8-lane FMAs.
NANOPQ_CPP_TARGET_AVX2 inline void cross_accumulate(const float* x, const float* y, std::size_t rows, std::size_t dim,
                                                    float* out) {
    std::size_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const float *x0 = x + i * dim, *x1 = x0 + dim, *x2 = x1 + dim, *x3 = x2 + dim;
        const float *y0 = y + i * dim, *y1 = y0 + dim, *y2 = y1 + dim, *y3 = y2 + dim;
        for (std::size_t a = 0; a < dim; ++a) {
            const __m256 w0 = _mm256_set1_ps(x0[a]), w1 = _mm256_set1_ps(x1[a]);
            const __m256 w2 = _mm256_set1_ps(x2[a]), w3 = _mm256_set1_ps(x3[a]);
            float* row = out + a * dim;
            std::size_t b = 0;
            for (; b + 8 <= dim; b += 8) {
                __m256 sum = _mm256_mul_ps(w0, _mm256_loadu_ps(y0 + b));
                sum = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y1 + b), sum);
                sum = _mm256_fmadd_ps(w2, _mm256_loadu_ps(y2 + b), sum);
                sum = _mm256_fmadd_ps(w3, _mm256_loadu_ps(y3 + b), sum);
                _mm256_storeu_ps(row + b, _mm256_add_ps(_mm256_loadu_ps(row + b), sum));
            }
            for (; b < dim; ++b)
                row[b] += std::fma(x3[a], y3[b], std::fma(x2[a], y2[b], std::fma(x1[a], y1[b], x0[a] * y0[b])));
        }
    }
    for (; i < rows; ++i)
        for (std::size_t a = 0; a < dim; ++a) {
            const float w = x[i * dim + a];
            float* row = out + a * dim;
            for (std::size_t b = 0; b < dim; ++b) row[b] = std::fma(w, y[i * dim + b], row[b]);
        }
}

// reference::unfused for a whole register (compiled for AVX2, as its callers).
NANOPQ_CPP_TARGET_AVX2 inline __m256 unfused(__m256 x) {
#if defined(__GNUC__) || defined(__clang__)
    __asm__("" : "+x"(x));
#endif
    return x;
}

// reference::l2_to_codewords with the dimensions in vector lanes, for
// 8 <= Ds <= 128, where numpy's pairwise sum keeps eight partial sums r[j]
// over dimensions j, j+8, ...: lane j of one register is r[j], summed in the
// same order, and ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) is two in-register
// additions of swapped lanes (addition commutes exactly), then the tail.
// Other Ds go to the reference, so every entry is the reference's to the bit.
NANOPQ_CPP_TARGET_AVX2 inline void l2_to_codewords(const float* query, const float* codewords, std::size_t n_codewords,
                                                   std::size_t dim, float* out) {
    if (dim < 8 || dim > 128) return reference::l2_to_codewords(query, codewords, n_codewords, dim, out);
    const std::size_t full = dim - dim % 8;
    for (std::size_t k = 0; k < n_codewords; ++k) {
        const float* c = codewords + k * dim;
        __m256 diff = _mm256_sub_ps(_mm256_loadu_ps(query), _mm256_loadu_ps(c));
        __m256 partial = unfused(_mm256_mul_ps(diff, diff));
        for (std::size_t d = 8; d < full; d += 8) {
            diff = _mm256_sub_ps(_mm256_loadu_ps(query + d), _mm256_loadu_ps(c + d));
            partial = _mm256_add_ps(partial, unfused(_mm256_mul_ps(diff, diff)));
        }
        const __m256 pairs = _mm256_add_ps(partial, _mm256_permute_ps(partial, 0xB1));  // r0+r1 in lane 0, ...
        const __m256 quads = _mm256_add_ps(pairs, _mm256_permute_ps(pairs, 0x4E));      // (r0+r1)+(r2+r3), ...
        float sum = _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(quads), _mm256_extractf128_ps(quads, 1)));
        for (std::size_t d = full; d < dim; ++d) {
            const float tail = query[d] - c[d];
            sum += reference::unfused(tail * tail);
        }
        const float root = std::sqrt(0.0f + sum);
        out[k] = root * root;
    }
}

// reference::key_range, 8 values a step (min and max are exact in any order).
NANOPQ_CPP_TARGET_AVX2 inline bool key_range(const float* values, std::size_t n, float sign, float* low, float* high) {
    if (n < 8) return reference::key_range(values, n, sign, low, high);
    const __m256 signs = _mm256_set1_ps(sign);
    const __m256i exponent = _mm256_set1_epi32(0x7F800000);
    __m256 lows = _mm256_mul_ps(signs, _mm256_loadu_ps(values)), highs = lows;
    __m256i bad = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(lows), exponent), exponent);
    std::size_t k = 8;
    for (; k + 8 <= n; k += 8) {
        const __m256 keys = _mm256_mul_ps(signs, _mm256_loadu_ps(values + k));
        lows = _mm256_min_ps(lows, keys);
        highs = _mm256_max_ps(highs, keys);
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(keys), exponent), exponent));
    }
    alignas(32) float lanes_low[8], lanes_high[8];
    _mm256_store_ps(lanes_low, lows);
    _mm256_store_ps(lanes_high, highs);
    float tail_low = lanes_low[0], tail_high = lanes_high[0];
    const bool finite = _mm256_testz_si256(bad, bad) &&
                        (k == n || reference::key_range(values + k, n - k, sign, &tail_low, &tail_high));
    for (int lane = 0; lane < 8; ++lane) {
        tail_low = lanes_low[lane] < tail_low ? lanes_low[lane] : tail_low;
        tail_high = lanes_high[lane] > tail_high ? lanes_high[lane] : tail_high;
    }
    *low = tail_low;
    *high = tail_high;
    return finite;
}

// reference::key_levels, 16 values a step.
NANOPQ_CPP_TARGET_AVX2 inline void key_levels(const float* values, std::size_t n, float sign, float low, float scale,
                                              int top, std::uint8_t* out) {
    const __m256 signs = _mm256_set1_ps(sign), lows = _mm256_set1_ps(low), scales = _mm256_set1_ps(scale);
    const __m256 tops = _mm256_set1_ps(static_cast<float>(top));
    std::size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m256 a = _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(signs, _mm256_loadu_ps(values + k)), lows), scales);
        const __m256 b =
            _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(signs, _mm256_loadu_ps(values + k + 8)), lows), scales);
        // min(x, top) before the conversion, as the scalar form: a huge level saturates instead of wrapping.
        const __m256i level_a = _mm256_cvttps_epi32(_mm256_min_ps(a, tops));
        const __m256i level_b = _mm256_cvttps_epi32(_mm256_min_ps(b, tops));
        // packus works within 128-bit lanes: a0 b0 a1 b1 as 16-bit, then reorder.
        const __m256i words = _mm256_permute4x64_epi64(_mm256_packus_epi32(level_a, level_b), 0xD8);
        const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k), bytes);
    }
    if (k < n) reference::key_levels(values + k, n - k, sign, low, scale, top, out + k);
}

// reference::l2_to_columns, 8 codewords a step (Ds < 8: the sum is in order).
NANOPQ_CPP_TARGET_AVX2 inline void l2_to_columns(const float* query, const float* columns, std::size_t n_codewords,
                                                 std::size_t dim, float* out) {
    std::size_t k = 0;
    for (; k + 8 <= n_codewords; k += 8) {
        __m256 sum = _mm256_set1_ps(-0.0f);
        for (std::size_t d = 0; d < dim; ++d) {
            const __m256 diff = _mm256_sub_ps(_mm256_set1_ps(query[d]), _mm256_loadu_ps(columns + d * n_codewords + k));
            sum = _mm256_add_ps(sum, unfused(_mm256_mul_ps(diff, diff)));
        }
        const __m256 root = _mm256_sqrt_ps(_mm256_add_ps(_mm256_setzero_ps(), sum));
        _mm256_storeu_ps(out + k, _mm256_mul_ps(root, root));
    }
    if (k < n_codewords) reference::l2_to_columns_from(query, columns, n_codewords, dim, k, out);
}

// The levels of codewords [k, k + 8) for l2_levels_columns_of.
template <std::size_t kDim>
NANOPQ_CPP_TARGET_AVX2 inline __m256i l2_levels_at(const __m256* values, const float* query, const float* columns,
                                                   std::size_t n_codewords, std::size_t dim, std::size_t k,
                                                   __m256 scales, __m256 tops) {
    __m256 sum = _mm256_setzero_ps();
    for (std::size_t d = 0; d < dim; ++d) {
        const __m256 value = kDim > 0 ? values[d] : _mm256_set1_ps(query[d]);
        const __m256 diff = _mm256_sub_ps(value, _mm256_loadu_ps(columns + d * n_codewords + k));
        const __m256 square = unfused(_mm256_mul_ps(diff, diff));
        sum = d == 0 ? square : _mm256_add_ps(sum, square);
    }
    // min(x, top) before the conversion: a huge level saturates instead of wrapping.
    return _mm256_cvttps_epi32(_mm256_min_ps(_mm256_mul_ps(sum, scales), tops));
}

// reference::l2_levels_columns, 16 codewords a step.
template <std::size_t kDim>
NANOPQ_CPP_TARGET_AVX2 inline void l2_levels_columns_of(const float* query, const float* columns,
                                                        std::size_t n_codewords, std::size_t n_dim, float scale,
                                                        int top, std::uint8_t* out) {
    const std::size_t dim = kDim > 0 ? kDim : n_dim;
    __m256 values[kDim > 0 ? kDim : 1];
    if constexpr (kDim > 0)
        for (std::size_t d = 0; d < kDim; ++d) values[d] = _mm256_set1_ps(query[d]);
    const __m256 scales = _mm256_set1_ps(scale), tops = _mm256_set1_ps(static_cast<float>(top));
    std::size_t k = 0;
    for (; k + 16 <= n_codewords; k += 16) {
        const __m256i low = l2_levels_at<kDim>(values, query, columns, n_codewords, dim, k, scales, tops);
        const __m256i high = l2_levels_at<kDim>(values, query, columns, n_codewords, dim, k + 8, scales, tops);
        const __m256i words = _mm256_permute4x64_epi64(_mm256_packus_epi32(low, high), 0xD8);
        const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k), bytes);
    }
    if (k < n_codewords) reference::l2_levels_columns_from(query, columns, n_codewords, dim, k, scale, top, out);
}

NANOPQ_CPP_TARGET_AVX2 inline void l2_levels_columns(const float* query, const float* columns, std::size_t n_codewords,
                                                     std::size_t dim, float scale, int top, std::uint8_t* out) {
    switch (dim) {
        case 1: return l2_levels_columns_of<1>(query, columns, n_codewords, dim, scale, top, out);
        case 2: return l2_levels_columns_of<2>(query, columns, n_codewords, dim, scale, top, out);
        case 4: return l2_levels_columns_of<4>(query, columns, n_codewords, dim, scale, top, out);
        default: return l2_levels_columns_of<0>(query, columns, n_codewords, dim, scale, top, out);
    }
}

// reference::column_keys, two blocks (64 columns) a step: eight independent
// chains hide the latency of a multiply then an add.
NANOPQ_CPP_TARGET_AVX2 inline void column_keys(const float* query, const float* blocks, const float* starts,
                                               std::size_t n, std::size_t dim, float* out) {
    static_assert(reference::kColumnBlock == 32, "a block is four registers");
    alignas(32) float lanes[64];
    for (std::size_t l = 0; l < n; l += 64) {
        const std::size_t width = (std::min)(std::size_t{64}, n - l);
        const std::size_t n_blocks = width > 32 ? 2 : 1;
        for (std::size_t j = 0; j < 64; ++j) lanes[j] = starts && j < width ? starts[l + j] : 0.0f;
        __m256 sums[8];
        for (int r = 0; r < 8; ++r) sums[r] = _mm256_load_ps(lanes + 8 * r);
        const float* first = blocks + l * dim;
        const float* second = first + 32 * dim;  // read only when the step has two blocks
        for (std::size_t d = 0; d < dim; ++d) {
            const __m256 value = _mm256_set1_ps(query[d]);
            for (int r = 0; r < 4; ++r)
                sums[r] =
                    _mm256_add_ps(sums[r], unfused(_mm256_mul_ps(value, _mm256_loadu_ps(first + 32 * d + 8 * r))));
            if (n_blocks == 2)
                for (int r = 0; r < 4; ++r)
                    sums[4 + r] = _mm256_add_ps(
                        sums[4 + r], unfused(_mm256_mul_ps(value, _mm256_loadu_ps(second + 32 * d + 8 * r))));
        }
        const __m256 sign = _mm256_set1_ps(-0.0f);
        for (int r = 0; r < 8; ++r) _mm256_store_ps(lanes + 8 * r, _mm256_xor_ps(sums[r], sign));
        std::copy_n(lanes, width, out + l);
    }
}

template <bool kAtLeast>
NANOPQ_CPP_TARGET_AVX2 inline __m256 within(const float* values, __m256 limit) {
    const __m256 value = _mm256_loadu_ps(values);
    return kAtLeast ? _mm256_cmp_ps(value, limit, _CMP_GE_OQ) : _mm256_cmp_ps(value, limit, _CMP_LE_OQ);
}

// reference::first_within, 32 values per step: four compares OR-ed into one
// mask, and the scalar loop only for the step that holds the first hit.
template <bool kAtLeast>
NANOPQ_CPP_TARGET_AVX2 inline std::size_t first_within(const float* values, std::size_t count, float bound) {
    const __m256 limit = _mm256_set1_ps(bound);
    std::size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        const __m256 any = _mm256_or_ps(
            _mm256_or_ps(within<kAtLeast>(values + i, limit), within<kAtLeast>(values + i + 8, limit)),
            _mm256_or_ps(within<kAtLeast>(values + i + 16, limit), within<kAtLeast>(values + i + 24, limit)));
        if (_mm256_movemask_ps(any) != 0) break;
    }
    return i + reference::first_within<kAtLeast>(values + i, count - i, bound);
}

}  // namespace avx2
}  // namespace nanopq_cpp::impl

#endif  // NANOPQ_CPP_X86
