#pragma once
// The scalar reference kernels: plain loops that every per-ISA kernel must
// agree with (codes exactly, distances to rounding), and the kernels used when
// no SIMD level is available.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace nanopq_cpp {

namespace reference {

inline float squared_norm(const float* x, std::size_t dim) {
    float sum = 0.0f;
    for (std::size_t d = 0; d < dim; ++d) sum += x[d] * x[d];
    return sum;
}

// nearest_codeword through ||c||^2 - 2 x.c with `norms` holding ||c||^2 (the
// squared distance up to ||x||^2, which does not change the argmin). Half the
// arithmetic of the exact form; k-means uses it on centred data, where the
// cancellation it suffers is small. distances get ||x||^2 added back.
inline void nearest_codeword_by_norms(const float* points, std::size_t n_points, std::size_t stride,
                                      const float* codewords_t, const float* norms, std::size_t n_codewords,
                                      std::size_t dim, std::uint32_t* labels, float* distances) {
    float acc[64];
    for (std::size_t i = 0; i < n_points; ++i) {
        const float* x = points + i * stride;
        float best = std::numeric_limits<float>::infinity();
        std::uint32_t best_index = 0;
        for (std::size_t k0 = 0; k0 < n_codewords; k0 += 64) {
            const std::size_t width = n_codewords - k0 < 64 ? n_codewords - k0 : 64;
            for (std::size_t j = 0; j < width; ++j) acc[j] = norms[k0 + j];
            for (std::size_t d = 0; d < dim; ++d) {
                const float minus_two_x = -2.0f * x[d];
                const float* row = codewords_t + d * n_codewords + k0;
                for (std::size_t j = 0; j < width; ++j) acc[j] += row[j] * minus_two_x;
            }
            for (std::size_t j = 0; j < width; ++j) {
                if (acc[j] < best) {
                    best = acc[j];
                    best_index = static_cast<std::uint32_t>(k0 + j);
                }
            }
        }
        labels[i] = best_index;
        if (distances) {
            const float distance = best + squared_norm(x, dim);
            distances[i] = distance > 0.0f ? distance : 0.0f;
        }
    }
}

// Codewords handled per pass of nearest_codeword: the accumulators stay in
// registers/L1 and no point x Ks distance matrix is ever built.
inline constexpr std::size_t kCodewordBlock = 64;

// For each of n_points sub-vectors (row stride `stride`), the index of the
// nearest codeword in squared l2 and that distance. Ties go to the lowest index,
// as scipy.cluster.vq.vq (nanopq's encoder) does; distances are summed over
// dimensions in order, also as vq does, so codes match nanopq's.
inline void nearest_codeword(const float* points, std::size_t n_points, std::size_t stride, const float* codewords_t,
                             std::size_t n_codewords, std::size_t dim, std::uint32_t* labels, float* distances) {
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

// out[i] = sum_m table[m][codes[i][m]]: the ADC scan, for a compile-time
// number of subspaces kM (0: M known only at run time). Four codes are summed
// side by side, and for even M each code in two chains (even and odd m), so
// the additions' latency overlaps; nanopq's np.sum(..., axis=1) also sums
// pairwise, so results agree to rounding. Measured on the AMD EPYC we develop
// on (M=16, Ks=256, one core): 115 M codes/s for the plain loop with run-time
// M, 288 M codes/s with four codes, 308 M codes/s with the two chains, where
// the load ports (two loads per term) are the limit. Every SIMD level uses this
// loop: AVX2/AVX-512 gathers measured 75-95 M codes/s here.
template <std::size_t kM, class code_t>
void adist_unrolled(const float* table, std::size_t n_subspaces, std::size_t n_codewords, const code_t* codes,
                    std::size_t n, float* out) {
    constexpr bool kTwoChains = kM != 0 && kM % 2 == 0;
    const std::size_t M = kM != 0 ? kM : n_subspaces;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const code_t* code = codes + i * M;
        float even[4] = {0.0f, 0.0f, 0.0f, 0.0f}, odd[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (kTwoChains) {
            for (std::size_t m = 0; m < M; m += 2) {
                const float* row = table + m * n_codewords;
                const float* next_row = row + n_codewords;
                for (std::size_t p = 0; p < 4; ++p) {
                    even[p] += row[code[p * M + m]];
                    odd[p] += next_row[code[p * M + m + 1]];
                }
            }
        } else {
            for (std::size_t m = 0; m < M; ++m) {
                const float* row = table + m * n_codewords;
                for (std::size_t p = 0; p < 4; ++p) even[p] += row[code[p * M + m]];
            }
        }
        for (std::size_t p = 0; p < 4; ++p) out[i + p] = even[p] + odd[p];
    }
    for (; i < n; ++i) {
        const code_t* code = codes + i * M;
        float even = 0.0f, odd = 0.0f;
        std::size_t m = 0;
        if (kTwoChains)
            for (; m < M; m += 2) {
                even += table[m * n_codewords + code[m]];
                odd += table[(m + 1) * n_codewords + code[m + 1]];
            }
        for (; m < M; ++m) even += table[m * n_codewords + code[m]];
        out[i] = even + odd;
    }
}

// The ADC scan for any M; codes must already be checked against Ks.
template <class code_t>
void adist(const float* table, std::size_t n_subspaces, std::size_t n_codewords, const code_t* codes, std::size_t n,
           float* out) {
    switch (n_subspaces) {
        case 4: return adist_unrolled<4>(table, n_subspaces, n_codewords, codes, n, out);
        case 8: return adist_unrolled<8>(table, n_subspaces, n_codewords, codes, n, out);
        case 16: return adist_unrolled<16>(table, n_subspaces, n_codewords, codes, n, out);
        case 32: return adist_unrolled<32>(table, n_subspaces, n_codewords, codes, n, out);
        case 64: return adist_unrolled<64>(table, n_subspaces, n_codewords, codes, n, out);
        default: return adist_unrolled<0>(table, n_subspaces, n_codewords, codes, n, out);
    }
}

// The end of a SIMD nearest-codeword search, the same for every ISA: pick the
// best of the per-lane winners (lowest index among equal distances, the scalar
// reference's answer), then search the codewords past the last full block with
// the kernels' fused arithmetic. kByNorms: distances are ||c||^2 - 2 x.c, and
// ||x||^2 is added back to the reported distance.
template <bool kByNorms>
inline void finish_nearest(const float* lane_best, const std::uint32_t* lane_index, int n_lanes, const float* point,
                           const float* codewords_t, const float* norms, std::size_t first_unblocked,
                           std::size_t n_codewords, std::size_t dim, std::uint32_t* label, float* distance) {
    float winner = std::numeric_limits<float>::infinity();
    std::uint32_t winner_index = 0;
    for (int j = 0; j < n_lanes; ++j) {
        if (lane_best[j] < winner || (lane_best[j] == winner && lane_index[j] < winner_index)) {
            winner = lane_best[j];
            winner_index = lane_index[j];
        }
    }
    for (std::size_t k = first_unblocked; k < n_codewords; ++k) {
        float sum = kByNorms ? norms[k] : 0.0f;
        for (std::size_t d = 0; d < dim; ++d) {
            const float c = codewords_t[d * n_codewords + k];
            if (kByNorms) {
                sum = std::fma(c, -2.0f * point[d], sum);
            } else {
                const float diff = c - point[d];
                sum = std::fma(diff, diff, sum);
            }
        }
        if (sum < winner) {
            winner = sum;
            winner_index = static_cast<std::uint32_t>(k);
        }
    }
    *label = winner_index;
    if (distance) *distance = kByNorms ? std::max(0.0f, winner + squared_norm(point, dim)) : winner;
}

// out (dim x dim) += x^T y over `rows` rows of x and y (row-major, dim wide):
// OPQ's cross-correlation for the Procrustes step. Four rows per pass, so each
// out row is loaded and stored once per four rank-1 updates; each entry is
// summed in row order, the same at any thread count.
inline void cross_accumulate(const float* x, const float* y, std::size_t rows, std::size_t dim, float* out) {
    std::size_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const float *x0 = x + i * dim, *x1 = x0 + dim, *x2 = x1 + dim, *x3 = x2 + dim;
        const float *y0 = y + i * dim, *y1 = y0 + dim, *y2 = y1 + dim, *y3 = y2 + dim;
        for (std::size_t a = 0; a < dim; ++a) {
            const float w0 = x0[a], w1 = x1[a], w2 = x2[a], w3 = x3[a];
            float* row = out + a * dim;
            for (std::size_t b = 0; b < dim; ++b) row[b] += w0 * y0[b] + w1 * y1[b] + w2 * y2[b] + w3 * y3[b];
        }
    }
    for (; i < rows; ++i)
        for (std::size_t a = 0; a < dim; ++a) {
            const float w = x[i * dim + a];
            float* row = out + a * dim;
            for (std::size_t b = 0; b < dim; ++b) row[b] += w * y[i * dim + b];
        }
}

}  // namespace reference
}  // namespace nanopq_cpp
