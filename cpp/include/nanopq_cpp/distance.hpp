#pragma once
// Distance kernels over one subspace: the plain reference versions. They are
// written so that compilers vectorise the inner loops across codewords; the
// per-ISA versions in simd/ must agree with these.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace nanopq_cpp {

// Codewords of one subspace stored dimension-major ([Ds][Ks]) so that the
// inner loop of a nearest-codeword search runs over contiguous codewords.
inline std::vector<float> transpose_codewords(const float* codewords, std::size_t n_codewords, std::size_t dim) {
    std::vector<float> transposed(n_codewords * dim);
    for (std::size_t k = 0; k < n_codewords; ++k)
        for (std::size_t d = 0; d < dim; ++d) transposed[d * n_codewords + k] = codewords[k * dim + d];
    return transposed;
}

namespace reference {

// Codewords handled per pass of nearest_codeword: the accumulators stay in
// registers/L1 and no point x Ks distance matrix is ever built.
inline constexpr std::size_t kCodewordBlock = 64;

// For each of n_points sub-vectors (row stride `stride`), the index of the
// nearest codeword in squared l2 and that distance. Ties go to the lowest index,
// as scipy.cluster.vq.vq (nanopq's encoder) does; distances are summed over
// dimensions in order, also as vq does, so codes match nanopq's.
inline void nearest_codeword(const float* points, std::size_t n_points, std::size_t stride,
                             const float* codewords_t, std::size_t n_codewords, std::size_t dim,
                             std::uint32_t* labels, float* distances) {
    float acc[kCodewordBlock];
    for (std::size_t i = 0; i < n_points; ++i) {
        const float* x = points + i * stride;
        float best = std::numeric_limits<float>::infinity();
        std::uint32_t best_index = 0;
        for (std::size_t k0 = 0; k0 < n_codewords; k0 += kCodewordBlock) {
            const std::size_t width = n_codewords - k0 < kCodewordBlock ? n_codewords - k0 : kCodewordBlock;
            for (std::size_t j = 0; j < width; ++j) acc[j] = 0.0f;
            for (std::size_t d = 0; d < dim; ++d) {
                const float xd = x[d];
                const float* row = codewords_t + d * n_codewords + k0;
                for (std::size_t j = 0; j < width; ++j) {
                    const float diff = row[j] - xd;
                    acc[j] += diff * diff;
                }
            }
            for (std::size_t j = 0; j < width; ++j) {
                // `<` keeps the first minimum; NaN never wins, so a NaN input
                // yields codeword 0 and an infinite distance (checked upstream).
                if (acc[j] < best) {
                    best = acc[j];
                    best_index = static_cast<std::uint32_t>(k0 + j);
                }
            }
        }
        labels[i] = best_index;
        if (distances) distances[i] = best;
    }
}

// Squared l2 distance from one sub-vector to each codeword ([Ks][Ds] layout).
inline void l2_to_codewords(const float* query, const float* codewords, std::size_t n_codewords, std::size_t dim,
                            float* out) {
    for (std::size_t k = 0; k < n_codewords; ++k) {
        const float* c = codewords + k * dim;
        float sum = 0.0f;
        for (std::size_t d = 0; d < dim; ++d) {
            const float diff = query[d] - c[d];
            sum += diff * diff;
        }
        out[k] = sum;
    }
}

// Inner product of one sub-vector with each codeword ([Ks][Ds] layout).
inline void dot_to_codewords(const float* query, const float* codewords, std::size_t n_codewords, std::size_t dim,
                             float* out) {
    for (std::size_t k = 0; k < n_codewords; ++k) {
        const float* c = codewords + k * dim;
        float sum = 0.0f;
        for (std::size_t d = 0; d < dim; ++d) sum += query[d] * c[d];
        out[k] = sum;
    }
}

}  // namespace reference
}  // namespace nanopq_cpp
