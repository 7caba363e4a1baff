#pragma once
// Lloyd's k-means for one subspace, with the initialisations nanopq offers
// through scipy.cluster.vq.kmeans2 and repair of empty clusters.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "../common.hpp"
#include "../options.hpp"
#include "distance.hpp"
#include "linalg.hpp"
#include "random.hpp"
#include "statistics.hpp"
#include "threading.hpp"

namespace nanopq_cpp::impl {

struct KMeansOptions {
    std::size_t iterations = 20;
    KMeansInit init = KMeansInit::points;
    int num_threads = 0;  // 0: the global setting
};

// Points per task in the assignment step. Fixed (not derived from the thread
// count) so that the work split, and thus every result, is thread-count free.
inline constexpr std::size_t kAssignBlock = 1024;

// Assigns each point to its nearest centroid; returns the summed squared error.
// Distances go through ||c||^2 - 2 x.c (half the arithmetic of (c - x)^2);
// kmeans() centres the data first so the cancellation in that form stays
// small, and a rare flip between near-equal centroids does not hurt k-means.
inline double kmeans_assign(const float* data, std::size_t n, std::size_t dim, std::size_t stride,
                            const float* centroids, std::size_t k, std::uint32_t* labels, int num_threads) {
    const std::vector<float> centroids_t = transpose_codewords(centroids, k, dim);
    std::vector<float> norms(k);
    for (std::size_t c = 0; c < k; ++c)
        norms[c] = std::inner_product(centroids + c * dim, centroids + (c + 1) * dim, centroids + c * dim, 0.0f);
    const auto nearest_codeword = active_kernels().nearest_codeword_by_norms;
    const std::size_t n_blocks = (n + kAssignBlock - 1) / kAssignBlock;
    std::vector<double> block_error(n_blocks, 0.0);
    parallel_for(n_blocks, num_threads, [&](std::size_t block) {
        const std::size_t begin = block * kAssignBlock, count = (std::min)(kAssignBlock, n - begin);
        float distances[kAssignBlock];
        nearest_codeword(data + begin * stride, count, stride, centroids_t.data(), norms.data(), k, dim, labels + begin,
                         distances);
        double sum = 0.0;
        for (std::size_t i = 0; i < count; ++i) sum += distances[i];
        block_error[block] = sum;
    });
    // Summed in block order: the same total for any thread count.
    return std::accumulate(block_error.begin(), block_error.end(), 0.0);
}

inline void init_points(const float* data, std::size_t n, std::size_t dim, std::size_t stride, std::size_t k,
                        Random& random, float* centroids) {
    require(k <= n, "k-means 'points' init needs at least Ks training vectors");
    // Partial Fisher-Yates over indices: k distinct points, uniformly.
    std::vector<std::uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    for (std::size_t i = 0; i < k; ++i) {
        std::size_t j = i + static_cast<std::size_t>(random.below(n - i));
        std::swap(order[i], order[j]);
        std::copy_n(data + order[i] * stride, dim, centroids + i * dim);
    }
}

inline void init_gaussian(const float* data, std::size_t n, std::size_t dim, std::size_t stride, std::size_t k,
                          Random& random, float* centroids) {
    // Mean and covariance of the data, then samples mean + V sqrt(L) z for the
    // eigen-decomposition cov = V L V^T (negative round-off eigenvalues -> 0).
    const Moments data_moments = moments(data, n, dim, stride);
    const std::vector<double>& mean = data_moments.mean;
    const std::vector<double>& cov = data_moments.covariance;
    std::vector<double> eigenvalues(dim), eigenvectors(dim * dim);
    linalg::symmetric_eigen(cov.data(), dim, eigenvalues.data(), eigenvectors.data());
    std::vector<double> scale(dim), z(dim);
    for (std::size_t j = 0; j < dim; ++j) scale[j] = std::sqrt((std::max)(0.0, eigenvalues[j]));
    for (std::size_t c = 0; c < k; ++c) {
        for (std::size_t j = 0; j < dim; ++j) z[j] = random.normal() * scale[j];
        for (std::size_t d = 0; d < dim; ++d) {
            double value = mean[d];
            for (std::size_t j = 0; j < dim; ++j) value += eigenvectors[d * dim + j] * z[j];
            centroids[c * dim + d] = static_cast<float>(value);
        }
    }
}

inline void init_plusplus(const float* data, std::size_t n, std::size_t dim, std::size_t stride, std::size_t k,
                          Random& random, float* centroids, int num_threads) {
    std::vector<float> nearest(n, std::numeric_limits<float>::infinity());
    std::size_t chosen = static_cast<std::size_t>(random.below(n));
    const std::size_t n_blocks = (n + kAssignBlock - 1) / kAssignBlock;
    for (std::size_t c = 0;; ++c) {
        std::copy_n(data + chosen * stride, dim, centroids + c * dim);
        if (c + 1 == k) break;
        const float* newest = centroids + c * dim;
        std::vector<double> block_total(n_blocks, 0.0);
        parallel_for(n_blocks, num_threads, [&](std::size_t block) {
            const std::size_t begin = block * kAssignBlock, end = (std::min)(n, begin + kAssignBlock);
            double total = 0.0;
            for (std::size_t i = begin; i < end; ++i) {
                float distance = 0.0f;
                for (std::size_t d = 0; d < dim; ++d) {
                    const float diff = data[i * stride + d] - newest[d];
                    distance += diff * diff;
                }
                nearest[i] = (std::min)(nearest[i], distance);
                total += nearest[i];
            }
            block_total[block] = total;
        });
        const double total = std::accumulate(block_total.begin(), block_total.end(), 0.0);
        if (!(total > 0.0)) {
            // Every point already coincides with a centroid: fall back to uniform picks.
            chosen = static_cast<std::size_t>(random.below(n));
            continue;
        }
        // Sample proportionally to the squared distance to the nearest centroid.
        double target = random.uniform() * total, running = 0.0;
        chosen = n - 1;
        for (std::size_t i = 0; i < n; ++i) {
            running += nearest[i];
            if (running > target) {
                chosen = i;
                break;
            }
        }
    }
}

// Moves centroids to the mean of their points. An empty cluster takes half of
// the largest cluster: both get the big centroid, nudged apart, so the next
// assignment splits its points (the remedy faiss uses; scipy keeps a stale
// centroid that never recovers). Returns how many clusters were empty.
inline std::size_t kmeans_update(const float* data, std::size_t n, std::size_t dim, std::size_t stride,
                                 const std::uint32_t* labels, std::size_t k, const std::vector<float>& spread,
                                 float* centroids) {
    std::vector<double> sums(k * dim, 0.0);
    std::vector<std::size_t> counts(k, 0);
    // Sequential in point order: deterministic, and O(n dim) against the
    // assignment's O(n k dim), so it is not worth a parallel reduction.
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t label = labels[i];
        double* sum = sums.data() + label * dim;
        const float* x = data + i * stride;
        for (std::size_t d = 0; d < dim; ++d) sum[d] += x[d];
        ++counts[label];
    }
    for (std::size_t c = 0; c < k; ++c) {
        if (counts[c] == 0) continue;
        const double inverse = 1.0 / static_cast<double>(counts[c]);
        for (std::size_t d = 0; d < dim; ++d) centroids[c * dim + d] = static_cast<float>(sums[c * dim + d] * inverse);
    }
    std::size_t n_empty = 0;
    constexpr float kNudge = 1.0f / 1024.0f;
    for (std::size_t c = 0; c < k; ++c) {
        if (counts[c] != 0) continue;
        ++n_empty;
        std::size_t donor = static_cast<std::size_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
        float* target = centroids + c * dim;
        float* source = centroids + donor * dim;
        for (std::size_t d = 0; d < dim; ++d) {
            // Additive nudge scaled by the data's spread, so a centroid at the
            // origin is split too.
            const float delta = kNudge * (std::fabs(source[d]) + spread[d]);
            target[d] = source[d] + delta;
            source[d] -= delta;
        }
        counts[c] = counts[donor] / 2;
        counts[donor] -= counts[c];
    }
    return n_empty;
}

// Per-dimension standard deviation, the scale for empty-cluster nudges.
inline std::vector<float> per_dimension_spread(const float* data, std::size_t n, std::size_t dim, std::size_t stride) {
    std::vector<double> mean(dim, 0.0), square(dim, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < dim; ++d) {
            const double x = data[i * stride + d];
            mean[d] += x;
            square[d] += x * x;
        }
    std::vector<float> spread(dim);
    for (std::size_t d = 0; d < dim; ++d) {
        const double m = mean[d] / static_cast<double>(n);
        spread[d] = static_cast<float>(std::sqrt((std::max)(0.0, square[d] / static_cast<double>(n) - m * m)));
    }
    return spread;
}

// Clusters n points of `dim` floats (row stride `stride`) into k centroids,
// written to `centroids` (k * dim). With KMeansInit::given, `centroids` holds
// the starting point on entry. Returns the final assignment's squared error.
inline double kmeans(const float* data, std::size_t n, std::size_t dim, std::size_t stride, std::size_t k,
                     const KMeansOptions& options, Random& random, float* centroids) {
    require(data != nullptr && centroids != nullptr, "k-means needs data and a centroid buffer");
    require(n > 0 && dim > 0 && k > 0, "k-means needs n > 0, dim > 0 and k > 0");
    require(stride >= dim, "k-means row stride must be at least dim");
    require(k <= 0xFFFFFFFFULL, "k-means supports at most 2**32 centroids");
    require(n <= 0xFFFFFFFFULL, "k-means trains on at most 2**32 - 1 vectors; subsample the training set");
    const int num_threads = resolve_num_threads(options.num_threads);
    // Work on a centred, contiguous copy: k-means does not change under
    // translation, the copy is read 2 x iterations times with unit stride, and
    // centring keeps the norm-based distances in kmeans_assign accurate.
    std::vector<double> mean(dim, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < dim; ++d) mean[d] += data[i * stride + d];
    for (auto& m : mean) m /= static_cast<double>(n);
    std::vector<float> centred(checked_product(n, dim, "k-means data"));
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < dim; ++d) centred[i * dim + d] = static_cast<float>(data[i * stride + d] - mean[d]);
    const float* points = centred.data();
    switch (options.init) {
        case KMeansInit::points: init_points(points, n, dim, dim, k, random, centroids); break;
        case KMeansInit::random: init_gaussian(points, n, dim, dim, k, random, centroids); break;
        case KMeansInit::plusplus: init_plusplus(points, n, dim, dim, k, random, centroids, num_threads); break;
        case KMeansInit::given:
            for (std::size_t c = 0; c < k; ++c)
                for (std::size_t d = 0; d < dim; ++d)
                    centroids[c * dim + d] = static_cast<float>(centroids[c * dim + d] - mean[d]);
            break;
    }
    const std::vector<float> spread = per_dimension_spread(points, n, dim, dim);
    std::vector<std::uint32_t> labels(n);
    double error = 0.0;
    for (std::size_t it = 0; it < options.iterations; ++it) {
        error = kmeans_assign(points, n, dim, dim, centroids, k, labels.data(), num_threads);
        kmeans_update(points, n, dim, dim, labels.data(), k, spread, centroids);
    }
    for (std::size_t c = 0; c < k; ++c)
        for (std::size_t d = 0; d < dim; ++d)
            centroids[c * dim + d] = static_cast<float>(centroids[c * dim + d] + mean[d]);
    return error;
}

}  // namespace nanopq_cpp::impl
