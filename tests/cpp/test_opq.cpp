// Tests for nanopq_cpp/impl/opq.hpp: eigenvalue allocation, rotations, the
// covariance, and OPQ training (orthogonal R, lower error than PQ, free of the
// thread count).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/impl/opq.hpp>
#include <nanopq_cpp/quantizer.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "test_helpers.hpp"

namespace np = nanopq_cpp;

namespace {

// Vectors whose variance is spread unevenly and mixed across all dimensions,
// the case OPQ exists for: scales decay, then a fixed orthogonal mix.
std::vector<float> correlated_vectors(std::size_t n, std::size_t dim, std::uint64_t seed) {
    std::vector<float> raw = test::uniform_vectors(n, dim, seed);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < dim; ++d) raw[i * dim + d] *= static_cast<float>(4.0 / (1.0 + d));
    std::vector<double> mix_in(dim * dim), mix(dim * dim);
    const std::vector<float> noise = test::uniform_vectors(dim, dim, seed + 1);
    std::copy(noise.begin(), noise.end(), mix_in.begin());
    np::impl::linalg::nearest_orthogonal(mix_in.data(), dim, mix.data());
    std::vector<float> mix_f(mix.begin(), mix.end()), out(n * dim);
    np::impl::rotate(raw.data(), n, dim, mix_f.data(), out.data(), 1);
    return out;
}

double reconstruction_error(const std::vector<float>& vecs, std::size_t n, std::size_t dim, std::size_t M,
                            std::size_t Ks, const std::vector<float>& codewords, const std::vector<float>* rotation) {
    std::vector<float> rotated = vecs;
    if (rotation) np::impl::rotate(vecs.data(), n, dim, rotation->data(), rotated.data());
    const np::impl::CodebookView codebook{codewords.data(), M, Ks, dim / M};
    std::vector<std::uint16_t> codes(n * M);
    std::vector<float> decoded(n * dim);
    np::impl::encode(rotated.data(), n, codebook, codes.data());
    np::impl::decode(codes.data(), n, codebook, decoded.data());
    // R is orthogonal, so the error in the rotated space is the error.
    double error = 0.0;
    for (std::size_t i = 0; i < n * dim; ++i)
        error += (rotated[i] - decoded[i]) * static_cast<double>(rotated[i] - decoded[i]);
    return error;
}

}  // namespace

TEST_CASE("eigenvalue_allocation balances the products of eigenvalues per subspace") {
    // log-shifted loads 3.08, 2.39, 1.69, 1: 8 goes to subspace 0, 4 and 2 to
    // subspace 1 (the lighter one) until it is full, 1 to subspace 0.
    const std::vector<double> eigenvalues = {8.0, 4.0, 2.0, 1.0};
    CHECK(np::impl::eigenvalue_allocation(eigenvalues.data(), 4, 2) == std::vector<std::size_t>{0, 3, 1, 2});
}

TEST_CASE("eigenvalue_allocation is a permutation that gives each subspace Ds directions") {
    for (std::size_t M : {1, 2, 4, 8}) {
        const std::size_t dim = 16, Ds = dim / M;
        std::vector<double> eigenvalues(dim);
        for (std::size_t d = 0; d < dim; ++d) eigenvalues[d] = std::pow(0.7, static_cast<double>(d));
        const std::vector<std::size_t> order = np::impl::eigenvalue_allocation(eigenvalues.data(), dim, M);
        std::vector<std::size_t> sorted = order;
        std::sort(sorted.begin(), sorted.end());
        std::vector<std::size_t> identity(dim);
        std::iota(identity.begin(), identity.end(), 0);
        CHECK(sorted == identity);
        // The M largest eigenvalues go to M different subspaces.
        std::vector<int> top_per_subspace(M, 0);
        for (std::size_t position = 0; position < dim; ++position)
            if (order[position] < M) ++top_per_subspace[position / Ds];
        for (int count : top_per_subspace) CHECK(count == 1);
        // And the spread of log-products is no worse than slicing in order.
        auto spread = [&](const std::vector<std::size_t>& allocation) {
            std::vector<double> log_products(M, 0.0);
            for (std::size_t position = 0; position < dim; ++position)
                log_products[position / Ds] += std::log(eigenvalues[allocation[position]]);
            const auto bounds = std::minmax_element(log_products.begin(), log_products.end());
            return *bounds.second - *bounds.first;
        };
        CHECK(spread(order) <= spread(identity) + 1e-12);
    }
}

TEST_CASE("eigenvalue_allocation survives zero, negative and non-finite eigenvalues") {
    const std::vector<double> eigenvalues = {3.0, 0.0, -1e-18, std::numeric_limits<double>::quiet_NaN()};
    const std::vector<std::size_t> order = np::impl::eigenvalue_allocation(eigenvalues.data(), 4, 2);
    std::vector<std::size_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<std::size_t>{0, 1, 2, 3});
    CHECK_THROWS_AS(np::impl::eigenvalue_allocation(nullptr, 4, 2), std::invalid_argument);
}

TEST_CASE("rotate is the matrix product, for any thread count") {
    const std::size_t n = 1200, dim = 7;  // several row blocks
    const std::vector<float> vecs = test::uniform_vectors(n, dim, 51);
    const std::vector<float> matrix = test::uniform_vectors(dim, dim, 52);
    std::vector<float> single(n * dim), multi(n * dim);
    np::impl::rotate(vecs.data(), n, dim, matrix.data(), single.data(), 1);
    np::impl::rotate(vecs.data(), n, dim, matrix.data(), multi.data(), 3);
    CHECK(test::bitwise_equal(single, multi));
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < dim; ++j) {
            double expected = 0.0;
            for (std::size_t k = 0; k < dim; ++k)
                expected += static_cast<double>(vecs[i * dim + k]) * matrix[k * dim + j];
            CHECK(single[i * dim + j] == doctest::Approx(expected).epsilon(1e-5));
        }
}

TEST_CASE("covariance is the sample covariance, as np.cov") {
    const std::size_t n = 50, dim = 3;
    const std::vector<float> vecs = test::uniform_vectors(n, dim, 53);
    const std::vector<double> cov = np::impl::covariance(vecs.data(), n, dim);
    std::vector<double> mean(dim, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < dim; ++d) mean[d] += vecs[i * dim + d] / static_cast<double>(n);
    for (std::size_t a = 0; a < dim; ++a)
        for (std::size_t b = 0; b < dim; ++b) {
            double expected = 0.0;
            for (std::size_t i = 0; i < n; ++i)
                expected += (vecs[i * dim + a] - mean[a]) * (vecs[i * dim + b] - mean[b]);
            CHECK(cov[a * dim + b] == doctest::Approx(expected / static_cast<double>(n - 1)).epsilon(1e-10));
        }
    CHECK_THROWS_AS(np::impl::covariance(vecs.data(), 1, dim), std::invalid_argument);
}

TEST_CASE("the parametric rotation is orthogonal") {
    const std::size_t n = 2000, dim = 12;
    const std::vector<float> vecs = correlated_vectors(n, dim, 54);
    const std::vector<float> rotation = np::impl::parametric_rotation(vecs.data(), n, dim, 4);
    CHECK(test::orthogonality_error(rotation, dim) < 1e-5);
}

TEST_CASE("train_opq learns an orthogonal rotation that lowers PQ's error") {
    const std::size_t n = 3000, dim = 16, M = 4, Ks = 16;
    const std::vector<float> vecs = correlated_vectors(n, dim, 55);
    for (bool parametric : {false, true}) {
        CAPTURE(parametric);
        np::OPQTrainingOptions options;
        options.parametric_init = parametric;
        options.rotation_iterations = 8;
        const np::impl::OPQModel model = np::impl::train_opq(vecs.data(), n, dim, M, Ks, options);
        CHECK(model.rotation.size() == dim * dim);
        CHECK(model.codewords.size() == M * Ks * (dim / M));
        CHECK(test::orthogonality_error(model.rotation, dim) < 1e-4);

        np::impl::KMeansOptions pq_options;
        const std::vector<float> pq_codewords = np::impl::train_codewords(vecs.data(), n, dim, M, Ks, pq_options, 123);
        const double pq_error = reconstruction_error(vecs, n, dim, M, Ks, pq_codewords, nullptr);
        const double opq_error = reconstruction_error(vecs, n, dim, M, Ks, model.codewords, &model.rotation);
        CHECK(opq_error < pq_error);
    }
}

TEST_CASE("train_opq does not depend on the thread count") {
    const std::size_t n = 1500, dim = 8, M = 2, Ks = 16;
    const std::vector<float> vecs = correlated_vectors(n, dim, 56);
    std::vector<np::impl::OPQModel> models;
    for (int threads : {1, 2, 4}) {
        np::OPQTrainingOptions options;
        options.rotation_iterations = 3;
        options.num_threads = threads;
        models.push_back(np::impl::train_opq(vecs.data(), n, dim, M, Ks, options));
    }
    for (const np::impl::OPQModel& model : models) {
        CHECK(test::bitwise_equal(model.rotation, models[0].rotation));
        CHECK(test::bitwise_equal(model.codewords, models[0].codewords));
    }
}

TEST_CASE("train_opq rejects bad arguments") {
    const std::vector<float> vecs = test::uniform_vectors(100, 6, 57);
    np::OPQTrainingOptions options;
    CHECK_THROWS_AS(np::OptimizedProductQuantizer(4, 8).fit(vecs.data(), 100, 6), std::invalid_argument);  // 6 % 4
    CHECK_THROWS_AS(np::impl::train_opq(vecs.data(), 1, 6, 3, 8, options), std::invalid_argument);
    options.rotation_iterations = 0;
    CHECK_THROWS_AS(np::impl::train_opq(vecs.data(), 100, 6, 3, 8, options), std::invalid_argument);
}
