// Tests for nanopq_cpp/impl/kmeans.hpp: assignment against brute force, each
// initialisation, empty-cluster repair, and results free of the thread count.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/impl/kmeans.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <vector>

#include "test_helpers.hpp"

namespace np = nanopq_cpp;

TEST_CASE("kmeans_assign picks the nearest centroid and sums the errors") {
    const std::size_t n = 3000, dim = 5, k = 37;  // n spans several assignment blocks
    const std::vector<float> data = test::uniform_vectors(n, dim, 1);
    const std::vector<float> centroids = test::uniform_vectors(k, dim, 2);
    std::vector<std::uint32_t> labels(n);
    const double error = np::impl::kmeans_assign(data.data(), n, dim, dim, centroids.data(), k, labels.data(), 2);
    double expected_error = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        CHECK(test::is_nearest(&data[i * dim], centroids.data(), k, dim, labels[i]));
        expected_error += test::squared_distance(&data[i * dim], &centroids[labels[i] * dim], dim);
    }
    CHECK(error == doctest::Approx(expected_error).epsilon(1e-5));
}

TEST_CASE("kmeans_assign breaks ties towards the lowest index, as scipy's vq") {
    const std::size_t dim = 3;
    const std::vector<float> centroids = {1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0};  // 0 == 2, 1 == 3
    const std::vector<float> data = {1, 1, 1, 0, 0, 0, 0.5f, 0.5f, 0.5f};       // the last is equidistant
    std::vector<std::uint32_t> labels(3);
    np::impl::kmeans_assign(data.data(), 3, dim, dim, centroids.data(), 4, labels.data(), 1);
    CHECK(labels == std::vector<std::uint32_t>{0, 1, 0});
}

TEST_CASE("kmeans_assign honours a row stride larger than dim") {
    // Two-column rows of which only the first column is clustered: a subspace.
    const std::vector<float> data = {0.0f, 99.0f, 10.0f, -99.0f, 0.2f, 5.0f};
    const std::vector<float> centroids = {0.0f, 10.0f};
    std::vector<std::uint32_t> labels(3);
    np::impl::kmeans_assign(data.data(), 3, 1, 2, centroids.data(), 2, labels.data(), 1);
    CHECK(labels == std::vector<std::uint32_t>{0, 1, 0});
}

TEST_CASE("k-means++ finds well-separated clusters") {
    // D^2 sampling all but surely seeds one centroid per cluster here; plain
    // 'points' may seed two in one cluster and stop in that local minimum.
    const std::size_t n = 2000, dim = 4, k = 4;
    const std::vector<float> data = test::clustered_vectors(n, dim, k, 3);
    np::impl::KMeansOptions options;
    options.init = np::KMeansInit::plusplus;
    np::impl::Random random(11);
    std::vector<float> centroids(k * dim);
    const double error = np::impl::kmeans(data.data(), n, dim, dim, k, options, random, centroids.data());
    // Noise 0.1 per dimension: the right clustering has error ~ n * dim * 0.01.
    CHECK(error < 2.0 * static_cast<double>(n * dim) * 0.01);
}

TEST_CASE("Lloyd iterations lower the error from every initialisation") {
    const std::size_t n = 2000, dim = 4, k = 16;
    const std::vector<float> data = test::uniform_vectors(n, dim, 3);
    for (np::KMeansInit init : {np::KMeansInit::points, np::KMeansInit::random, np::KMeansInit::plusplus}) {
        CAPTURE(static_cast<int>(init));
        auto error_after = [&](std::size_t iterations) {
            np::impl::KMeansOptions options;
            options.init = init;
            options.iterations = iterations;
            np::impl::Random random(11);
            std::vector<float> centroids(k * dim);
            const double error = np::impl::kmeans(data.data(), n, dim, dim, k, options, random, centroids.data());
            for (float value : centroids) CHECK(std::isfinite(value));
            return error;
        };
        CHECK(error_after(20) < error_after(1));
    }
}

TEST_CASE("'points' initialisation starts from distinct training vectors") {
    const std::size_t n = 50, dim = 3, k = 10;
    const std::vector<float> data = test::uniform_vectors(n, dim, 4);
    np::impl::KMeansOptions options;
    options.iterations = 0;  // keep the initial centroids
    np::impl::Random random(5);
    std::vector<float> centroids(k * dim);
    np::impl::kmeans(data.data(), n, dim, dim, k, options, random, centroids.data());
    std::set<std::size_t> rows;
    for (std::size_t c = 0; c < k; ++c) {
        const std::size_t row = test::brute_force_nearest(&centroids[c * dim], data.data(), n, dim);
        // Equal up to rounding: k-means may centre the data and add the mean back.
        CHECK(test::squared_distance(&centroids[c * dim], &data[row * dim], dim) < 1e-12);
        rows.insert(row);
    }
    CHECK(rows.size() == k);
}

TEST_CASE("'given' initialisation starts from the centroids passed in") {
    const std::size_t n = 100, dim = 2, k = 3;
    const std::vector<float> data = test::uniform_vectors(n, dim, 6);
    const std::vector<float> start = {0.5f, 0.5f, -0.5f, -0.5f, 0.5f, -0.5f};
    np::impl::KMeansOptions options;
    options.init = np::KMeansInit::given;
    options.iterations = 0;
    np::impl::Random random(7);
    std::vector<float> centroids = start;
    np::impl::kmeans(data.data(), n, dim, dim, k, options, random, centroids.data());
    CHECK(centroids == start);

    // One Lloyd step from there equals one update computed by hand.
    options.iterations = 1;
    np::impl::kmeans(data.data(), n, dim, dim, k, options, random, centroids.data());
    std::vector<double> sums(k * dim, 0.0);
    std::vector<std::size_t> counts(k, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t label = test::brute_force_nearest(&data[i * dim], start.data(), k, dim);
        ++counts[label];
        for (std::size_t d = 0; d < dim; ++d) sums[label * dim + d] += data[i * dim + d];
    }
    for (std::size_t c = 0; c < k; ++c)
        for (std::size_t d = 0; d < dim; ++d)
            CHECK(centroids[c * dim + d] ==
                  doctest::Approx(sums[c * dim + d] / static_cast<double>(counts[c])).epsilon(1e-6));
}

TEST_CASE("an empty cluster takes half of the largest one instead of staying stale") {
    const std::size_t dim = 2, k = 2;
    // All points near the origin; centroid 1 starts far away and gets none.
    const std::vector<float> data = {0.0f, 0.0f, 0.1f, 0.0f, 0.0f, 0.1f, 1.0f, 1.0f, 1.1f, 1.0f, 1.0f, 1.1f};
    const std::size_t n = data.size() / dim;
    std::vector<float> centroids = {0.5f, 0.5f, 100.0f, 100.0f};
    std::vector<std::uint32_t> labels(n);
    np::impl::kmeans_assign(data.data(), n, dim, dim, centroids.data(), k, labels.data(), 1);
    const std::vector<float> spread = np::impl::per_dimension_spread(data.data(), n, dim, dim);
    CHECK(np::impl::kmeans_update(data.data(), n, dim, dim, labels.data(), k, spread, centroids.data()) == 1);
    CHECK(std::fabs(centroids[2]) < 2.0f);  // moved next to the data
    CHECK(centroids[0] != centroids[2]);    // and apart from its donor

    np::impl::KMeansOptions options;
    options.init = np::KMeansInit::given;
    options.iterations = 10;
    np::impl::Random random(1);
    centroids = {0.5f, 0.5f, 100.0f, 100.0f};
    np::impl::kmeans(data.data(), n, dim, dim, k, options, random, centroids.data());
    // The two groups of three points end up in different clusters.
    std::sort(centroids.begin(), centroids.end());
    CHECK(centroids[0] == doctest::Approx(1.0 / 30.0).epsilon(1e-5));
    CHECK(centroids[3] == doctest::Approx(3.1 / 3.0).epsilon(1e-5));
}

TEST_CASE("kmeans results do not depend on the thread count") {
    const std::size_t n = 5000, dim = 6, k = 64;  // several blocks of kAssignBlock points
    const std::vector<float> data = test::uniform_vectors(n, dim, 8);
    for (np::KMeansInit init : {np::KMeansInit::points, np::KMeansInit::plusplus}) {
        std::vector<std::vector<float>> results;
        for (int threads : {1, 2, 3, 8}) {
            np::impl::KMeansOptions options;
            options.init = init;
            options.iterations = 5;
            options.num_threads = threads;
            np::impl::Random random(9);
            std::vector<float> centroids(k * dim);
            np::impl::kmeans(data.data(), n, dim, dim, k, options, random, centroids.data());
            results.push_back(centroids);
        }
        for (const auto& result : results) CHECK(test::bitwise_equal(result, results[0]));
    }
}

TEST_CASE("kmeans is fixed by the seed") {
    const std::size_t n = 500, dim = 3, k = 8;
    const std::vector<float> data = test::uniform_vectors(n, dim, 10);
    auto run = [&](std::uint64_t seed) {
        np::impl::Random random(seed);
        std::vector<float> centroids(k * dim);
        np::impl::kmeans(data.data(), n, dim, dim, k, np::impl::KMeansOptions{}, random, centroids.data());
        return centroids;
    };
    CHECK(test::bitwise_equal(run(1), run(1)));
    CHECK_FALSE(test::bitwise_equal(run(1), run(2)));
}

TEST_CASE("kmeans rejects arguments that would read out of bounds") {
    const std::vector<float> data = test::uniform_vectors(10, 2, 12);
    std::vector<float> centroids(20 * 2);
    np::impl::Random random(1);
    np::impl::KMeansOptions options;
    CHECK_THROWS_AS(np::impl::kmeans(data.data(), 10, 2, 2, 20, options, random, centroids.data()),
                    std::invalid_argument);
    CHECK_THROWS_AS(np::impl::kmeans(nullptr, 10, 2, 2, 2, options, random, centroids.data()), std::invalid_argument);
    CHECK_THROWS_AS(np::impl::kmeans(data.data(), 10, 2, 1, 2, options, random, centroids.data()),
                    std::invalid_argument);
    CHECK_THROWS_AS(np::impl::kmeans(data.data(), 0, 2, 2, 2, options, random, centroids.data()),
                    std::invalid_argument);
    CHECK_THROWS_AS(np::kmeans_init_from_name("kmeans||"), std::invalid_argument);
}
