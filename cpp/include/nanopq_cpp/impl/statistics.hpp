#pragma once
// The mean and covariance of a set of vectors: k-means' Gaussian
// initialisation samples from them, OPQ's parametric rotation diagonalises the
// covariance.

#include <cstddef>
#include <vector>

#include "../common.hpp"

namespace nanopq_cpp::impl {

struct Moments {
    std::vector<double> mean;        // dim
    std::vector<double> covariance;  // dim x dim, row-major, symmetric
};

// The mean and the sample covariance (divided by n - 1, as np.cov; by 1 for a
// single vector) of n vectors of dim floats, `stride` floats apart, in double.
// Summed in row order, so the result is the same on every call.
inline Moments moments(const float* vecs, std::size_t n, std::size_t dim, std::size_t stride) {
    require(n > 0 && vecs != nullptr, "moments need at least one vector");
    Moments result{std::vector<double>(dim, 0.0), std::vector<double>(checked_product(dim, dim, "covariance"), 0.0)};
    std::vector<double>& mean = result.mean;
    std::vector<double>& cov = result.covariance;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < dim; ++d) mean[d] += vecs[i * stride + d];
    for (double& value : mean) value /= static_cast<double>(n);
    std::vector<double> centred(dim);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t d = 0; d < dim; ++d) centred[d] = vecs[i * stride + d] - mean[d];
        for (std::size_t a = 0; a < dim; ++a)
            for (std::size_t b = a; b < dim; ++b) cov[a * dim + b] += centred[a] * centred[b];
    }
    const double denominator = n > 1 ? static_cast<double>(n - 1) : 1.0;
    for (std::size_t a = 0; a < dim; ++a)
        for (std::size_t b = a; b < dim; ++b) cov[b * dim + a] = cov[a * dim + b] /= denominator;
    return result;
}

// The sample covariance of n >= 2 contiguous vectors, as np.cov(vecs, rowvar=False).
inline std::vector<double> covariance(const float* vecs, std::size_t n, std::size_t dim) {
    require(n > 1, "a covariance needs at least two vectors");
    return moments(vecs, n, dim, dim).covariance;
}

}  // namespace nanopq_cpp::impl
