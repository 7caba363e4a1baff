#pragma once
// PQk-means (Matsui, Ogaki, Yamasaki and Aizawa, ACM MM 2017): k-means over
// PQ codes whose centers are PQ codes too; the coarse quantizer of the
// inverted index (inverted_lists.hpp, ../rii.hpp).
//
// Both of its steps have a float form that runs on k-means' kernels:
// - a code's symmetric distance to a center, sum_m ||c_m[x_m] - c_m[y_m]||^2,
//   is the squared l2 distance between the two decoded vectors, so the
//   assignment decodes a block of codes and finds the nearest decoded center
//   with the nearest-centroid kernel (no M x Ks x Ks distance matrices);
// - the sparse-voting update, argmin_k sum_x ||c_m[x_m] - c_m[k]||^2 over the
//   members x, is the codeword nearest to the members' mean sub-vector (the
//   sum is n ||mean - c_m[k]||^2 plus a constant), i.e. encode() of the mean.
//
// Internal: trusts its callers (codes < Ks, n_centers <= n, a valid codebook).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "../common.hpp"
#include "distance.hpp"
#include "kmeans.hpp"
#include "pq.hpp"
#include "random.hpp"
#include "threading.hpp"

namespace nanopq_cpp::impl {

// Training codes a center: PQk-means (and rii) cluster a sample of at most
// this many codes per center, then assign every code once.
inline constexpr std::size_t kCoarseSamplePerCenter = 100;

// The nearest of n_centers center codes for each of n codes ([n][M] uint8),
// by the l2 distance between decoded vectors. Vectors are taken relative to
// the centers' mean, which keeps the ||c||^2 - 2 x.c form of the kernel from
// cancelling on data far from the origin (pixels 0..255).
inline void assign_to_centers(const CodebookView& codebook, const std::uint8_t* centers, std::size_t n_centers,
                              const std::uint8_t* codes, std::size_t n, std::uint32_t* labels, int num_threads) {
    const std::size_t dim = codebook.dim(), M = codebook.n_subspaces;
    std::vector<float> decoded_centers(n_centers * dim);
    gather_codewords(centers, n_centers, codebook, decoded_centers.data());
    std::vector<double> mean(dim, 0.0);
    for (std::size_t c = 0; c < n_centers; ++c)
        for (std::size_t d = 0; d < dim; ++d) mean[d] += decoded_centers[c * dim + d];
    std::vector<float> shift(dim);
    for (std::size_t d = 0; d < dim; ++d) shift[d] = static_cast<float>(mean[d] / static_cast<double>(n_centers));
    for (std::size_t c = 0; c < n_centers; ++c)
        for (std::size_t d = 0; d < dim; ++d) decoded_centers[c * dim + d] -= shift[d];
    const std::vector<float> centers_t = transpose_codewords(decoded_centers.data(), n_centers, dim);
    std::vector<float> norms(n_centers);
    for (std::size_t c = 0; c < n_centers; ++c)
        norms[c] = std::inner_product(decoded_centers.begin() + c * dim, decoded_centers.begin() + (c + 1) * dim,
                                      decoded_centers.begin() + c * dim, 0.0f);
    const auto nearest = active_kernels().nearest_codeword_by_norms;
    const std::size_t n_blocks = (n + kAssignBlock - 1) / kAssignBlock;
    const int threads = threads_for(n * n_centers * dim, std::size_t{1} << 22, num_threads);
    parallel_for(n_blocks, threads, [&](std::size_t block) {
        const std::size_t begin = block * kAssignBlock, count = (std::min)(kAssignBlock, n - begin);
        std::vector<float> vecs(count * dim);
        gather_codewords(codes + begin * M, count, codebook, vecs.data());
        for (std::size_t i = 0; i < count; ++i)
            for (std::size_t d = 0; d < dim; ++d) vecs[i * dim + d] -= shift[d];
        nearest(vecs.data(), count, dim, centers_t.data(), norms.data(), n_centers, dim, labels + begin, nullptr);
    });
}

// n_centers center codes ([n_centers][M]) clustering n codes: a sample of at
// most kCoarseSamplePerCenter * n_centers codes, centers started at distinct
// random sample codes, `iterations` assignments with an update between each
// two (as rii: the last assignment is not followed by an update). A center
// that loses all its codes keeps its place. Deterministic for a seed, at any
// thread count.
inline std::vector<std::uint8_t> pq_kmeans(const CodebookView& codebook, const std::uint8_t* codes, std::size_t n,
                                           std::size_t n_centers, std::size_t iterations, std::uint64_t seed,
                                           int num_threads, const Logger& log = {}) {
    const std::size_t M = codebook.n_subspaces, dim = codebook.dim();
    Random random(seed);
    // Partial Fisher-Yates: the sample, then the first n_centers of it start the centers.
    const std::size_t n_sample = (std::min)(n, n_centers * kCoarseSamplePerCenter);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t i = 0; i < n_sample; ++i) std::swap(order[i], order[i + random.below(n - i)]);
    std::vector<std::uint8_t> sample(n_sample * M);
    for (std::size_t i = 0; i < n_sample; ++i) std::copy_n(codes + order[i] * M, M, sample.data() + i * M);
    std::vector<std::uint8_t> centers(sample.begin(), sample.begin() + n_centers * M);
    if (log)
        log("PQk-means: " + std::to_string(n_centers) + " centers from " + std::to_string(n_sample) + " codes, " +
            std::to_string(iterations) + " iterations");
    std::vector<std::uint32_t> labels(n_sample);
    std::vector<double> sums(n_centers * dim);
    std::vector<std::size_t> sizes(n_centers);
    std::vector<float> decoded(dim), means;
    std::vector<std::size_t> filled;
    for (std::size_t iteration = 0; iteration < iterations; ++iteration) {
        assign_to_centers(codebook, centers.data(), n_centers, sample.data(), n_sample, labels.data(), num_threads);
        if (log) log("PQk-means: iteration " + std::to_string(iteration + 1) + " / " + std::to_string(iterations));
        if (iteration + 1 == iterations) break;
        std::fill(sums.begin(), sums.end(), 0.0);
        std::fill(sizes.begin(), sizes.end(), std::size_t{0});
        for (std::size_t i = 0; i < n_sample; ++i) {
            gather_codewords(sample.data() + i * M, 1, codebook, decoded.data());
            double* sum = sums.data() + labels[i] * dim;
            for (std::size_t d = 0; d < dim; ++d) sum[d] += decoded[d];
            ++sizes[labels[i]];
        }
        means.clear();
        filled.clear();
        for (std::size_t c = 0; c < n_centers; ++c) {
            if (sizes[c] == 0) continue;
            filled.push_back(c);
            for (std::size_t d = 0; d < dim; ++d)
                means.push_back(static_cast<float>(sums[c * dim + d] / static_cast<double>(sizes[c])));
        }
        std::vector<std::uint8_t> encoded(filled.size() * M);
        encode(means.data(), filled.size(), codebook, encoded.data(), num_threads);
        for (std::size_t j = 0; j < filled.size(); ++j)
            std::copy_n(encoded.data() + j * M, M, centers.data() + filled[j] * M);
    }
    return centers;
}

}  // namespace nanopq_cpp::impl
