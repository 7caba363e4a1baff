#pragma once
// The scalar reference kernels: plain loops that every per-ISA kernel must
// agree with (codes exactly, distances to rounding), and the kernels used when
// no SIMD level is available.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

namespace nanopq_cpp::impl {

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

// x, unchanged, but opaque to the compiler: a product passed through it is
// never fused with the addition that follows. GCC's default outside ISO mode
// (-ffp-contract=fast), and clang's within an expression, turn `sum + a * b`
// into one FMA where the target has it (always on aarch64, in AVX2 functions),
// and an FMA rounds once where numpy rounds twice. Free: no instruction.
template <class T>
inline T unfused(T x) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __asm__("" : "+x"(x));
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
    __asm__("" : "+w"(x));
#elif defined(__GNUC__) || defined(__clang__)
    volatile T kept = x;  // other targets: a store and a load, still exact
    x = kept;
#endif
    // MSVC contracts only under /fp:contract or /fp:fast, which we do not use.
    return x;
}

// numpy's pairwise summation of term(first), ..., term(first + n - 1): the order
// np.sum and np.add.reduce use along a contiguous axis (pairwise_sum in numpy's
// loops_utils.h.src, unchanged from 1.9 to 2.x). Fewer than 8 terms: in order.
// Up to 128: eight partial sums over strides of 8, combined as
// ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the remaining terms in order.
// More: the two halves, the first a multiple of 8 long, recursively.
template <class Term>
inline float pairwise_block(std::size_t first, std::size_t n, const Term& term) {
    if (n < 8) {
        float sum = -0.0f;  // numpy 2 starts at -0.0; numpy_sum's +0.0 hides the difference
        for (std::size_t i = 0; i < n; ++i) sum += term(first + i);
        return sum;
    }
    float r[8];
    for (std::size_t j = 0; j < 8; ++j) r[j] = term(first + j);
    std::size_t i = 8;
    for (; i < n - n % 8; i += 8)
        for (std::size_t j = 0; j < 8; ++j) r[j] += term(first + i + j);
    float sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += term(first + i);
    return sum;
}

template <class Term>
inline float pairwise_sum(std::size_t first, std::size_t n, const Term& term) {
    if (n <= 128) return pairwise_block(first, n, term);
    std::size_t half = n / 2;
    half -= half % 8;
    return pairwise_sum(first, half, term) + pairwise_sum(first + half, n - half, term);
}

// np.sum of the n terms along a contiguous axis, to the bit: the reduction
// starts from its identity, +0.0, and adds the pairwise sum to it.
template <class Term>
inline float numpy_sum(std::size_t n, const Term& term) {
    return 0.0f + pairwise_sum(0, n, term);
}

// One row of an l2 distance table, as nanopq computes it:
// np.linalg.norm(query - codewords, axis=1) ** 2. That is the float32 squares
// of the differences, summed in numpy's order, then a square root and a
// square, each rounded to float32; the square of the root differs from the
// plain sum of squares in about half the entries. Codewords in [Ks][Ds] layout.
inline void l2_to_codewords(const float* query, const float* codewords, std::size_t n_codewords, std::size_t dim,
                            float* out) {
    for (std::size_t k = 0; k < n_codewords; ++k) {
        const float* c = codewords + k * dim;
        const float sum = numpy_sum(dim, [&](std::size_t d) {
            const float diff = query[d] - c[d];
            return unfused(diff * diff);
        });
        const float root = std::sqrt(sum);
        out[k] = root * root;
    }
}

// l2_to_codewords for Ds < 8 with the codewords in [Ds][Ks] layout (columns):
// fewer than 8 terms are summed in order, so entry k is
// sqrt(0 + sq_0 + sq_1 + ...)^2 as above, and the SIMD forms compute the
// same operations for 8 or 16 codewords at once.
// The sum of squares under entry k of l2_to_columns: 0 + sq_0 + sq_1 + ...
inline float l2_column_sum(const float* query, const float* columns, std::size_t n_codewords, std::size_t dim,
                           std::size_t k) {
    float sum = -0.0f;
    for (std::size_t d = 0; d < dim; ++d) {
        const float diff = query[d] - columns[d * n_codewords + k];
        sum += unfused(diff * diff);
    }
    return 0.0f + sum;
}

// Entry k of l2_to_columns alone: a row of an exact ADC distance read
// without its table (ivf_scan.hpp ProbeRescorer).
inline float l2_column_entry(const float* query, const float* columns, std::size_t n_codewords, std::size_t dim,
                             std::size_t k) {
    const float root = std::sqrt(l2_column_sum(query, columns, n_codewords, dim, k));
    return root * root;
}

// Entries [first, n_codewords) of l2_to_columns: the SIMD forms' tail.
inline void l2_to_columns_from(const float* query, const float* columns, std::size_t n_codewords, std::size_t dim,
                               std::size_t first, float* out) {
    for (std::size_t k = first; k < n_codewords; ++k) out[k] = l2_column_entry(query, columns, n_codewords, dim, k);
}

inline void l2_to_columns(const float* query, const float* columns, std::size_t n_codewords, std::size_t dim,
                          float* out) {
    l2_to_columns_from(query, columns, n_codewords, dim, 0, out);
}

// The least and largest of sign * values[0..n) (n > 0; sign is +1 or -1, so
// the products are exact), or false if a value is infinite or NaN: the
// range of a table row for the fast scan's levels (fast_scan.hpp).
inline bool key_range(const float* values, std::size_t n, float sign, float* low, float* high) {
    float least = sign * values[0], most = least;
    std::uint32_t not_finite = 0;  // infinity and NaN have every exponent bit set
    for (std::size_t k = 0; k < n; ++k) {
        const float key = sign * values[k];
        std::uint32_t bits;
        std::memcpy(&bits, &key, sizeof bits);
        not_finite |= static_cast<std::uint32_t>((bits & 0x7F800000u) == 0x7F800000u);
        least = key < least ? key : least;
        most = key > most ? key : most;
    }
    *low = least;
    *high = most;
    return not_finite == 0;
}

// out[k] = min(top, trunc((sign * values[k] - low) * scale)) for keys >= low
// and scale >= 0: the fast scan's levels (fast_scan.hpp proves they never
// overstate a key). Elementwise, so every level gives the same bytes.
inline void key_levels(const float* values, std::size_t n, float sign, float low, float scale, int top,
                       std::uint8_t* out) {
    // Compared as a float first: a level past int's range saturates at top
    // (converting it would be undefined).
    for (std::size_t k = 0; k < n; ++k) {
        const float level = (sign * values[k] - low) * scale;
        out[k] = static_cast<std::uint8_t>(level < static_cast<float>(top) ? static_cast<int>(level) : top);
    }
}

// out[k] = min(top, trunc(fl(s_k * scale))) for the sums of squares s_k
// that l2_to_columns takes the roots of (all finite: the caller knows):
// the fast scan's levels made straight from the codewords, without the
// table's roots and squares or a pass for its range (fast_scan.hpp
// direct_levels). Elementwise, so every level gives the same bytes.
inline void l2_levels_columns_from(const float* query, const float* columns, std::size_t n_codewords, std::size_t dim,
                                   std::size_t first, float scale, int top, std::uint8_t* out) {
    for (std::size_t k = first; k < n_codewords; ++k) {
        const float level = l2_column_sum(query, columns, n_codewords, dim, k) * scale;
        out[k] = static_cast<std::uint8_t>(level < static_cast<float>(top) ? static_cast<int>(level) : top);
    }
}

inline void l2_levels_columns(const float* query, const float* columns, std::size_t n_codewords, std::size_t dim,
                              float scale, int top, std::uint8_t* out) {
    l2_levels_columns_from(query, columns, n_codewords, dim, 0, scale, top, out);
}

// Columns a block of column_keys' layout holds.
inline constexpr std::size_t kColumnBlock = 32;

// out[l] = -(starts[l] + sum_d query[d] * column_l[d]) for n columns held in
// blocks of 32: block b is [dim][32] (column 32 b + j at j), the last one
// padded, so a block is one contiguous read. Each product is rounded, then
// added in order of d to starts[l] (0 when starts is null); the SIMD forms do
// the same per lane, so every level gives the same bits: an index's ranking
// of its lists (inverted_lists.hpp), smaller first. Not fused: mingw-w64's
// fmaf is not correctly rounded, and products and sums rounded apart are the
// same everywhere.
inline void column_keys(const float* query, const float* blocks, const float* starts, std::size_t n, std::size_t dim,
                        float* out) {
    for (std::size_t l = 0; l < n; ++l) {
        const float* block = blocks + (l / kColumnBlock) * dim * kColumnBlock + l % kColumnBlock;
        float sum = starts ? starts[l] : 0.0f;
        for (std::size_t d = 0; d < dim; ++d) sum += unfused(query[d] * block[d * kColumnBlock]);
        out[l] = -sum;
    }
}

// One row of an inner-product table: query . codeword for each codeword
// ([Ks][Ds] layout), products rounded to float32 and summed in order. nanopq
// computes this with numpy's matmul, i.e. its BLAS's sgemv, whose order
// depends on the BLAS kernel; the Python layer therefore calls numpy for 'dot'
// tables and this serves native callers. Whatever the BLAS kernel, it is
// within the rounding of both sums of numpy's (docs/exactness.md).
inline void dot_to_codewords(const float* query, const float* codewords, std::size_t n_codewords, std::size_t dim,
                             float* out) {
    for (std::size_t k = 0; k < n_codewords; ++k) {
        const float* c = codewords + k * dim;
        float sum = 0.0f;
        for (std::size_t d = 0; d < dim; ++d) sum += unfused(query[d] * c[d]);
        out[k] = sum;
    }
}

// The ADC distance of one code: numpy_sum of table[m][code[m]] over m, which is
// nanopq's np.sum(dtable[range(M), codes], axis=1) to the bit. kM > 0 fixes M
// at compile time, so the loops unroll; 0 means M is known only at run time.
template <std::size_t kM, class code_t>
inline float adist_one(const float* table, std::size_t n_subspaces, std::size_t n_codewords, const code_t* code) {
    const auto term = [&](std::size_t m) { return table[m * n_codewords + code[m]]; };
    // A compile-time M up to 128 needs no recursion, so the whole sum unrolls.
    if (kM != 0 && kM <= 128) return 0.0f + pairwise_block(0, kM, term);
    return numpy_sum(n_subspaces, term);
}

// out[i] = the ADC distance of code i, for n codes ([n][M]). The eight partial
// sums of numpy's order (M >= 8) are independent chains, so one code at a time
// keeps the load ports busy: they bound this loop, two loads per term.
template <std::size_t kM, class code_t>
void adist_rows(const float* table, std::size_t n_subspaces, std::size_t n_codewords, const code_t* codes,
                std::size_t n, float* out) {
    const std::size_t M = kM != 0 ? kM : n_subspaces;
    for (std::size_t i = 0; i < n; ++i) out[i] = adist_one<kM>(table, M, n_codewords, codes + i * M);
}

// Calls adist_rows<kM> for the kM in kFixed... that equals n_subspaces, else
// adist_rows<0> (M known at run time only).
template <class code_t, std::size_t kFirst, std::size_t... kFixed>
void adist_fixed(std::index_sequence<kFirst, kFixed...>, const float* table, std::size_t n_subspaces,
                 std::size_t n_codewords, const code_t* codes, std::size_t n, float* out) {
    if (n_subspaces == kFirst) return adist_rows<kFirst>(table, n_subspaces, n_codewords, codes, n, out);
    if constexpr (sizeof...(kFixed) > 0)
        adist_fixed(std::index_sequence<kFixed...>{}, table, n_subspaces, n_codewords, codes, n, out);
    else
        adist_rows<0>(table, n_subspaces, n_codewords, codes, n, out);
}

// The ADC scan for any M; codes must already be checked against Ks. M of 1 to
// 16 and multiples of 8 up to 128 get a compile-time loop (the run-time one
// measured 30% slower at M=12).
template <class code_t>
void adist(const float* table, std::size_t n_subspaces, std::size_t n_codewords, const code_t* codes, std::size_t n,
           float* out) {
    using Fixed = std::index_sequence<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 32, 40, 48, 56, 64, 80,
                                      96, 112, 128>;
    adist_fixed(Fixed{}, table, n_subspaces, n_codewords, codes, n, out);
}

// The index of the first of values[0..count) that is <= bound (kAtLeast:
// >= bound), or count if none is; a NaN value never qualifies. The top-k
// search's filter: once k rows are kept, a row must reach the worst kept
// distance to matter, and few do, so this runs over long stretches at a time.
template <bool kAtLeast>
inline std::size_t first_within(const float* values, std::size_t count, float bound) {
    for (std::size_t i = 0; i < count; ++i)
        if (kAtLeast ? values[i] >= bound : values[i] <= bound) return i;
    return count;
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
    if (distance) *distance = kByNorms ? (std::max)(0.0f, winner + squared_norm(point, dim)) : winner;
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
}  // namespace nanopq_cpp::impl
