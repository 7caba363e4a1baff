#pragma once
// NEON kernels for 64-bit ARM, where NEON is part of the baseline ISA.

#include "level.hpp"
#include "scalar.hpp"

#if defined(NANOPQ_CPP_ARM64)
#include <arm_neon.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace nanopq_cpp::impl {
namespace neon {

// Codewords per block: four 4-lane accumulators per point.
inline constexpr std::size_t kBlock = 16;

// As avx2::nearest_points, with 4-lane vectors.
inline void nearest_point(const float* point, const float* codewords_t, std::size_t n_codewords, std::size_t dim,
                          std::uint32_t* label, float* distance) {
    float32x4_t best = vdupq_n_f32(std::numeric_limits<float>::infinity());
    uint32x4_t best_index = vdupq_n_u32(0);
    const uint32_t lane_values[4] = {0, 1, 2, 3};
    const uint32x4_t lanes = vld1q_u32(lane_values);
    std::size_t k0 = 0;
    for (; k0 + kBlock <= n_codewords; k0 += kBlock) {
        float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
        for (std::size_t d = 0; d < dim; ++d) {
            const float* row = codewords_t + d * n_codewords + k0;
            const float32x4_t x = vdupq_n_f32(point[d]);
            for (int j = 0; j < 4; ++j) {
                const float32x4_t diff = vsubq_f32(vld1q_f32(row + 4 * j), x);
                acc[j] = vfmaq_f32(acc[j], diff, diff);
            }
        }
        for (int j = 0; j < 4; ++j) {
            const uint32x4_t index = vaddq_u32(lanes, vdupq_n_u32(static_cast<std::uint32_t>(k0 + 4 * j)));
            const uint32x4_t closer = vcltq_f32(acc[j], best);
            best = vbslq_f32(closer, acc[j], best);
            best_index = vbslq_u32(closer, index, best_index);
        }
    }
    float lane_best[4];
    std::uint32_t lane_index[4];
    vst1q_f32(lane_best, best);
    vst1q_u32(lane_index, best_index);
    reference::finish_nearest<false>(lane_best, lane_index, 4, point, codewords_t, nullptr, k0, n_codewords, dim, label,
                                     distance);
}

inline void nearest_codeword(const float* points, std::size_t n_points, std::size_t stride, const float* codewords_t,
                             std::size_t n_codewords, std::size_t dim, std::uint32_t* labels, float* distances) {
    for (std::size_t i = 0; i < n_points; ++i)
        nearest_point(points + i * stride, codewords_t, n_codewords, dim, labels + i,
                      distances ? distances + i : nullptr);
}

template <bool kAtLeast>
inline uint32x4_t within(const float* values, float32x4_t limit) {
    const float32x4_t value = vld1q_f32(values);
    return kAtLeast ? vcgeq_f32(value, limit) : vcleq_f32(value, limit);
}

// reference::first_within, 16 values per step (see avx2::first_within).
template <bool kAtLeast>
inline std::size_t first_within(const float* values, std::size_t count, float bound) {
    const float32x4_t limit = vdupq_n_f32(bound);
    std::size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const uint32x4_t any =
            vorrq_u32(vorrq_u32(within<kAtLeast>(values + i, limit), within<kAtLeast>(values + i + 4, limit)),
                      vorrq_u32(within<kAtLeast>(values + i + 8, limit), within<kAtLeast>(values + i + 12, limit)));
        if (vmaxvq_u32(any) != 0) break;
    }
    return i + reference::first_within<kAtLeast>(values + i, count - i, bound);
}

}  // namespace neon
}  // namespace nanopq_cpp::impl

#endif  // NANOPQ_CPP_ARM64
