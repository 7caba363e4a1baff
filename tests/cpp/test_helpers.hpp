#pragma once
// Data and plain reference loops shared by the C++ tests. The references are
// written the obvious way, in double where that makes them exact enough, so a
// test compares the core against code that is correct by inspection.

#include <nanopq_cpp/impl/random.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace test {

// n x dim uniform floats in [-1, 1), fixed by the seed on every platform.
inline std::vector<float> uniform_vectors(std::size_t n, std::size_t dim, std::uint64_t seed) {
    nanopq_cpp::impl::Random random(seed, 777);
    std::vector<float> vectors(n * dim);
    for (float& value : vectors) value = static_cast<float>(2.0 * random.uniform() - 1.0);
    return vectors;
}

// n points around n_clusters well-separated centres (spacing 10, noise 0.1),
// with the true cluster of each point in `labels`.
inline std::vector<float> clustered_vectors(std::size_t n, std::size_t dim, std::size_t n_clusters, std::uint64_t seed,
                                            std::vector<std::size_t>* labels = nullptr) {
    nanopq_cpp::impl::Random random(seed, 778);
    std::vector<float> vectors(n * dim);
    if (labels) labels->resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t cluster = i % n_clusters;
        if (labels) (*labels)[i] = cluster;
        for (std::size_t d = 0; d < dim; ++d) {
            const double centre = d == cluster % dim ? 10.0 * static_cast<double>(1 + cluster / dim) : 0.0;
            vectors[i * dim + d] = static_cast<float>(centre + 0.1 * random.normal());
        }
    }
    return vectors;
}

// Index of the codeword nearest to x in squared l2, the lowest on ties,
// summing in double; `codewords` is [k][dim].
inline std::size_t brute_force_nearest(const float* x, const float* codewords, std::size_t k, std::size_t dim) {
    std::size_t best = 0;
    double best_distance = std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < k; ++c) {
        double distance = 0.0;
        for (std::size_t d = 0; d < dim; ++d) {
            const double diff = static_cast<double>(x[d]) - codewords[c * dim + d];
            distance += diff * diff;
        }
        if (distance < best_distance) {
            best_distance = distance;
            best = c;
        }
    }
    return best;
}

// Squared l2 distance of two dim-vectors, in double.
inline double squared_distance(const float* a, const float* b, std::size_t dim);

// True if codeword `chosen` is a nearest codeword of x up to float rounding:
// the core computes in float (and k-means through ||c||^2 - 2 x.c), so on a
// near-tie it may pick either; anything else is a wrong answer.
inline bool is_nearest(const float* x, const float* codewords, std::size_t k, std::size_t dim, std::size_t chosen) {
    const std::size_t best = brute_force_nearest(x, codewords, k, dim);
    const double best_distance = squared_distance(x, codewords + best * dim, dim);
    const double chosen_distance = squared_distance(x, codewords + chosen * dim, dim);
    return chosen < k && chosen_distance <= best_distance + 1e-5 * (1.0 + best_distance);
}

// Squared l2 distance of two dim-vectors, in double.
inline double squared_distance(const float* a, const float* b, std::size_t dim) {
    double sum = 0.0;
    for (std::size_t d = 0; d < dim; ++d) {
        const double diff = static_cast<double>(a[d]) - b[d];
        sum += diff * diff;
    }
    return sum;
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Largest |(R^T R - I)_ij| of a row-major dim x dim matrix.
inline double orthogonality_error(const std::vector<float>& rotation, std::size_t dim) {
    double worst = 0.0;
    for (std::size_t a = 0; a < dim; ++a)
        for (std::size_t b = 0; b < dim; ++b) {
            double dot = 0.0;
            for (std::size_t r = 0; r < dim; ++r)
                dot += static_cast<double>(rotation[r * dim + a]) * rotation[r * dim + b];
            const double error = dot - (a == b ? 1.0 : 0.0);
            worst = error > worst ? error : (-error > worst ? -error : worst);
        }
    return worst;
}

}  // namespace test
