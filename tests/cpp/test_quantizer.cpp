// Tests for nanopq_cpp/quantizer.hpp: the classes give exactly what the free
// functions (the ones the Python module calls) give, pick the code width from
// Ks, and refuse misuse with clear exceptions.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/quantizer.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "test_helpers.hpp"

namespace np = nanopq_cpp;

TEST_CASE("Codes hold each width in its own type") {
    for (std::size_t bytes : {1, 2, 4}) {
        np::Codes codes(3, 2, bytes);
        CHECK(codes.code_bytes() == bytes);
        CHECK(codes.rows() == 3);
        CHECK(codes.size() == 6);
        codes.visit([](auto* data) { data[5] = 7; });
        CHECK(codes.at(2, 1) == 7);
    }
    np::Codes codes(2, 2, 2);
    CHECK(codes.data<std::uint16_t>() != nullptr);
    CHECK_THROWS_AS(codes.data<std::uint8_t>(), std::invalid_argument);
    CHECK_THROWS_AS(codes.at(2, 0), std::out_of_range);
    CHECK_THROWS_AS(codes.at(0, 2), std::out_of_range);
    CHECK_THROWS_AS(np::Codes(1, 1, 3), std::invalid_argument);
}

TEST_CASE("fit trains what train_codewords trains, as Python's PQ.fit calls it") {
    const std::size_t n = 2000, dim = 12, M = 3, Ks = 32;
    const std::vector<float> vecs = test::uniform_vectors(n, dim, 71);
    np::ProductQuantizer pq(M, Ks);
    np::PQTrainingOptions options;
    options.iterations = 7;
    options.seed = 5;
    pq.fit(vecs.data(), n, dim, options);
    np::impl::KMeansOptions kmeans_options;
    kmeans_options.iterations = 7;
    CHECK(
        test::bitwise_equal(pq.codewords(), np::impl::train_codewords(vecs.data(), n, dim, M, Ks, kmeans_options, 5)));
    CHECK(pq.is_fitted());
    CHECK(pq.subspace_dim() == 4);
    CHECK(pq.dim() == dim);

    // The defaults are nanopq's: 20 iterations, 'points', seed 123.
    np::ProductQuantizer defaults(M, Ks);
    defaults.fit(vecs.data(), n, dim);
    CHECK(test::bitwise_equal(defaults.codewords(),
                              np::impl::train_codewords(vecs.data(), n, dim, M, Ks, np::impl::KMeansOptions{}, 123)));
}

TEST_CASE("encode picks the code width from Ks and matches the free encode") {
    for (std::size_t Ks : {16, 256, 257, 65536, 65537}) {
        CAPTURE(Ks);
        const std::size_t M = 2, Ds = 2, n = 300;
        const np::ProductQuantizer pq(M, Ks, Ds, test::uniform_vectors(M * Ks, Ds, 72));
        const std::vector<float> vecs = test::uniform_vectors(n, M * Ds, 73);
        const np::Codes codes = pq.encode(vecs.data(), n);
        CHECK(codes.code_bytes() == (Ks <= 256 ? 1u : Ks <= 65536 ? 2u : 4u));
        std::vector<std::uint32_t> expected(n * M);
        np::impl::encode(vecs.data(), n, pq.codebook(), expected.data());
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t m = 0; m < M; ++m) CHECK(codes.at(i, m) == expected[i * M + m]);

        const std::vector<float> decoded = pq.decode(codes);
        std::vector<float> expected_decoded(n * M * Ds);
        np::impl::decode(expected.data(), n, pq.codebook(), expected_decoded.data());
        CHECK(test::bitwise_equal(decoded, expected_decoded));
    }
}

TEST_CASE("dtable, adist and search agree with the free functions and with each other") {
    const std::size_t M = 4, Ks = 64, Ds = 3, n = 5000, n_queries = 3, k = 7;
    for (np::Metric metric : {np::Metric::l2, np::Metric::dot}) {
        const np::ProductQuantizer pq(M, Ks, Ds, test::uniform_vectors(M * Ks, Ds, 74), metric);
        const std::vector<float> base = test::uniform_vectors(n, M * Ds, 75);
        const std::vector<float> queries = test::uniform_vectors(n_queries, M * Ds, 76);
        const np::Codes codes = pq.encode(base.data(), n);

        const np::DistanceTables tables = pq.dtable(queries.data(), n_queries);
        std::vector<float> expected_tables(n_queries * M * Ks);
        np::impl::distance_tables(queries.data(), n_queries, pq.codebook(), metric, expected_tables.data());
        CHECK(test::bitwise_equal(tables.values(), expected_tables));
        CHECK(tables.metric() == metric);

        const std::vector<float> distances = tables.adist(codes);
        for (std::size_t q = 0; q < n_queries; ++q) {
            const std::vector<float> one = pq.adist(&queries[q * M * Ds], codes);
            CHECK(test::bitwise_equal(one,
                                      std::vector<float>(distances.begin() + q * n, distances.begin() + (q + 1) * n)));
        }

        const np::SearchResult top = pq.search(queries.data(), n_queries, codes, k);
        CHECK(top.n_queries == n_queries);
        CHECK(top.k == k);
        std::vector<std::int64_t> ids(n_queries * k);
        std::vector<float> best(n_queries * k);
        np::impl::search(expected_tables.data(), n_queries, M, Ks, codes.data<std::uint8_t>(), n, k, metric, nullptr, 0,
                         ids.data(), best.data());
        CHECK(top.ids == ids);
        CHECK(test::bitwise_equal(top.distances, best));
        for (std::size_t q = 0; q < n_queries; ++q)
            for (std::size_t j = 0; j < k; ++j)
                CHECK(top.distances[q * k + j] == distances[q * n + top.ids[q * k + j]]);

        const std::vector<std::int64_t> subset = {4, 40, 400};
        const np::SearchResult within = pq.search(queries.data(), 1, codes, 2, subset.data(), subset.size());
        for (std::int64_t id : within.ids) CHECK((id == 4 || id == 40 || id == 400));
    }
}

TEST_CASE("results do not depend on the quantizer's thread count") {
    const std::size_t n = 3000, dim = 8, M = 2, Ks = 64;
    const std::vector<float> vecs = test::uniform_vectors(n, dim, 77);
    std::vector<std::vector<float>> codewords, distances;
    for (int threads : {1, 3}) {
        np::ProductQuantizer pq(M, Ks);
        pq.set_num_threads(threads);
        CHECK(pq.num_threads() == threads);
        pq.fit(vecs.data(), n, dim);
        codewords.push_back(pq.codewords());
        distances.push_back(pq.adist(vecs.data(), pq.encode(vecs.data(), n)));
    }
    CHECK(test::bitwise_equal(codewords[0], codewords[1]));
    CHECK(test::bitwise_equal(distances[0], distances[1]));
}

TEST_CASE("the quantizer refuses misuse with clear exceptions") {
    const std::vector<float> vecs = test::uniform_vectors(100, 6, 78);
    np::ProductQuantizer untrained(3, 16);
    CHECK_FALSE(untrained.is_fitted());
    CHECK_THROWS_AS(untrained.encode(vecs.data(), 1), std::logic_error);
    CHECK_THROWS_AS(untrained.dtable(vecs.data()), std::logic_error);
    CHECK_THROWS_AS(np::ProductQuantizer().fit(vecs.data(), 100, 6), std::invalid_argument);
    CHECK_THROWS_AS(np::ProductQuantizer(0, 16), std::invalid_argument);
    CHECK_THROWS_AS(np::ProductQuantizer(2, 0), std::invalid_argument);
    CHECK_THROWS_AS(untrained.fit(vecs.data(), 100, 5), std::invalid_argument);  // 5 % 3
    CHECK_THROWS_WITH_AS(untrained.fit(vecs.data(), 16, 6), doctest::Contains("more than Ks"), std::invalid_argument);
    std::vector<float> with_nan = vecs;
    with_nan[17] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH_AS(untrained.fit(with_nan.data(), 100, 6), doctest::Contains("NaN"), std::invalid_argument);
    CHECK_THROWS_AS(untrained.set_num_threads(-1), std::invalid_argument);
    CHECK_THROWS_AS(np::ProductQuantizer(2, 4, 3, std::vector<float>(5)), std::invalid_argument);

    const np::ProductQuantizer pq(3, 16, 2, test::uniform_vectors(3 * 16, 2, 79));
    const np::Codes wrong_columns(4, 2, 1);
    CHECK_THROWS_AS(pq.decode(wrong_columns), std::invalid_argument);
    CHECK_THROWS_AS(pq.dtable(vecs.data()).adist(wrong_columns), std::invalid_argument);
    np::Codes out_of_range(1, 3, 1);
    out_of_range.data<std::uint8_t>()[1] = 16;
    CHECK_THROWS_AS(pq.decode(out_of_range), std::out_of_range);
    CHECK_THROWS_AS(pq.search(vecs.data(), 1, out_of_range, 1), std::out_of_range);
}

TEST_CASE("OptimizedProductQuantizer is rotate-then-PQ") {
    const std::size_t n = 2000, dim = 8, M = 2, Ks = 32;
    const std::vector<float> vecs = test::uniform_vectors(n, dim, 80);
    np::OptimizedProductQuantizer opq(M, Ks, np::Metric::dot);
    np::OPQTrainingOptions options;
    options.rotation_iterations = 3;
    opq.fit(vecs.data(), n, dim, options);
    CHECK(opq.is_fitted());
    CHECK(opq.metric() == np::Metric::dot);
    CHECK(test::orthogonality_error(opq.rotation(), dim) < 1e-4);

    const std::vector<float> rotated = opq.rotate(vecs.data(), n);
    const np::Codes codes = opq.encode(vecs.data(), n);
    const np::Codes pq_codes = opq.pq().encode(rotated.data(), n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t m = 0; m < M; ++m) CHECK(codes.at(i, m) == pq_codes.at(i, m));

    // decode undoes the rotation: decode(x) R equals the PQ's decode.
    const std::vector<float> decoded = opq.decode(codes);
    const std::vector<float> pq_decoded = opq.pq().decode(codes);
    const std::vector<float> rerotated = opq.rotate(decoded.data(), n);
    for (std::size_t i = 0; i < rerotated.size(); ++i)
        CHECK(rerotated[i] == doctest::Approx(pq_decoded[i]).epsilon(1e-4));
    std::vector<float> decoded_raw(n * dim);
    opq.decode(codes.data<std::uint8_t>(), n, decoded_raw.data());
    CHECK(test::bitwise_equal(decoded_raw, decoded));

    const np::DistanceTables tables = opq.dtable(vecs.data(), 2);
    CHECK(test::bitwise_equal(tables.values(), opq.pq().dtable(rotated.data(), 2).values()));
    const np::SearchResult top = opq.search(vecs.data(), 1, codes, 3);
    CHECK(top.ids == opq.pq().search(rotated.data(), 1, codes, 3).ids);

    CHECK_THROWS_AS(np::OptimizedProductQuantizer(2, 16).encode(vecs.data(), 1), std::logic_error);
    CHECK_THROWS_AS(np::OptimizedProductQuantizer(std::vector<float>(3), opq.pq()), std::invalid_argument);
    CHECK_THROWS_AS(np::OptimizedProductQuantizer(std::vector<float>(64), np::ProductQuantizer(2, 16)),
                    std::invalid_argument);
}
