#pragma once
// The loops around the ISA bodies, written once for every ISA. A body is a
// struct of static member templates compiled for its ISA (target
// attributes); these portable drivers fix its compile-time parameters and
// call it once per group of points or queries, so all per-element work runs
// inside the body. A new ISA writes bodies only.

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace nanopq_cpp::impl {

// Body::nearest<kPoints, kByNorms, kDim>(points, ...) over the points, four
// at a time (each codeword load serves four points), then one at a time.
// Stamped into each body with the body's target attribute, so the group
// loop is compiled for its ISA and nearest<> inlines into it: its constants
// are then set up once per call, not once per group (3% of k-means, as a
// portable loop calling a target function).
#define NANOPQ_CPP_NEAREST_GROUPS(TARGET)                                                                       \
    template <bool kByNorms, std::size_t kDim>                                                                  \
    TARGET static void nearest_all(const float* points, std::size_t n_points, std::size_t stride,               \
                                   const float* codewords_t, const float* norms, std::size_t n_codewords,       \
                                   std::size_t dim, std::uint32_t* labels, float* distances) {                  \
        std::size_t i = 0;                                                                                      \
        for (; i + 4 <= n_points; i += 4) {                                                                     \
            const float* group[4] = {points + i * stride, points + (i + 1) * stride, points + (i + 2) * stride, \
                                     points + (i + 3) * stride};                                                \
            nearest<4, kByNorms, kDim>(group, codewords_t, norms, n_codewords, dim, labels + i,                 \
                                       distances ? distances + i : nullptr);                                    \
        }                                                                                                       \
        for (; i < n_points; ++i) {                                                                             \
            const float* single[1] = {points + i * stride};                                                     \
            nearest<1, kByNorms, kDim>(single, codewords_t, norms, n_codewords, dim, labels + i,                \
                                       distances ? distances + i : nullptr);                                    \
        }                                                                                                       \
    }

// A compile-time sub-dimension for the common Ds lets the compiler unroll
// the loop over dimensions (measured ~15% faster for Ds=8 than a run-time
// bound); kDim = 0 is the run-time loop.
template <class Body, bool kByNorms, std::size_t... kDims, class... Args>
void nearest_by_dim(std::index_sequence<kDims...>, std::size_t dim, Args... args) {
    const bool fixed = ((dim == kDims && (Body::template nearest_all<kByNorms, kDims>(args...), true)) || ...);
    if (!fixed) Body::template nearest_all<kByNorms, 0>(args...);
}
using FixedSubDims = std::index_sequence<2, 4, 8, 16>;

// The kernel table's nearest_codeword and nearest_codeword_by_norms for Body.
template <class Body>
void nearest_codeword_with(const float* points, std::size_t n_points, std::size_t stride, const float* codewords_t,
                           std::size_t n_codewords, std::size_t dim, std::uint32_t* labels, float* distances) {
    nearest_by_dim<Body, false>(FixedSubDims{}, dim, points, n_points, stride, codewords_t, nullptr, n_codewords, dim,
                                labels, distances);
}
template <class Body>
void nearest_codeword_by_norms_with(const float* points, std::size_t n_points, std::size_t stride,
                                    const float* codewords_t, const float* norms, std::size_t n_codewords,
                                    std::size_t dim, std::uint32_t* labels, float* distances) {
    nearest_by_dim<Body, true>(FixedSubDims{}, dim, points, n_points, stride, codewords_t, norms, n_codewords, dim,
                               labels, distances);
}

// run(std::integral_constant<int, size>{}, first) over n_queries queries:
// groups of kGroup, then one group of the rest (fewer than kGroup).
template <int kGroup, class Run>
void in_query_groups(std::size_t n_queries, const Run& run) {
    std::size_t q = 0;
    for (; q + kGroup <= n_queries; q += kGroup) run(std::integral_constant<int, kGroup>{}, q);
    if constexpr (kGroup > 1)
        if (q < n_queries)
            in_query_groups<kGroup - 1>(n_queries - q, [&](auto size, std::size_t first) { run(size, q + first); });
}

// The kernel table's scan_4bit or scan_8bit for Body (the contract of
// fast_scan_scalar.hpp): Body::scan<kQueries> scans the blocks for kQueries
// queries at once, whose LUTs are Body::lut_bytes(M) apart, and writes their
// masks with a stride of n_queries.
template <class Body, int kGroup>
void scan_with(const std::uint8_t* blocks, std::size_t n_blocks, std::size_t M, const std::uint8_t* luts,
               std::size_t n_queries, const std::uint16_t* thresholds, typename Body::Mask* masks) {
    const std::size_t lut_bytes = Body::lut_bytes(M);
    in_query_groups<kGroup>(n_queries, [&](auto size, std::size_t q) {
        Body::template scan<decltype(size)::value>(blocks, n_blocks, M, luts + q * lut_bytes, thresholds + q, masks + q,
                                                   n_queries);
    });
}

}  // namespace nanopq_cpp::impl
