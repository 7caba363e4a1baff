// Tests for nanopq_cpp/impl/pq.hpp: training, encoding (each code width) against a
// brute-force nearest codeword, decoding, and distance tables against loops.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/impl/pq.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "test_helpers.hpp"

namespace np = nanopq_cpp;

namespace {

// Encodes with code_t and checks each code against brute force, per subspace.
template <class code_t>
void check_encode_is_nearest(std::size_t M, std::size_t Ks, std::size_t Ds, std::size_t n) {
    const std::vector<float> codewords = test::uniform_vectors(M * Ks, Ds, 21);
    const std::vector<float> vecs = test::uniform_vectors(n, M * Ds, 22);
    const np::impl::CodebookView codebook{codewords.data(), M, Ks, Ds};
    std::vector<code_t> codes(n * M);
    np::impl::encode(vecs.data(), n, codebook, codes.data());
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t m = 0; m < M; ++m)
            CHECK(test::is_nearest(&vecs[i * M * Ds + m * Ds], &codewords[m * Ks * Ds], Ks, Ds, codes[i * M + m]));
}

}  // namespace

TEST_CASE("encode picks the nearest codeword in each subspace, for each code width") {
    SUBCASE("uint8, Ks = 256") { check_encode_is_nearest<std::uint8_t>(4, 256, 3, 700); }
    SUBCASE("uint16, Ks = 300") { check_encode_is_nearest<std::uint16_t>(3, 300, 2, 400); }
    SUBCASE("uint32, Ks = 65536 + 7") { check_encode_is_nearest<std::uint32_t>(1, 65536 + 7, 2, 40); }
    SUBCASE("a wider type than needed") { check_encode_is_nearest<std::uint32_t>(2, 16, 4, 300); }
}

TEST_CASE("encode gives codes equal to the reference kernel's") {
    // Whatever SIMD kernel encode dispatches to must agree with the scalar reference.
    const std::size_t M = 4, Ks = 256, Ds = 8, n = 1000;
    const std::vector<float> codewords = test::uniform_vectors(M * Ks, Ds, 23);
    const std::vector<float> vecs = test::uniform_vectors(n, M * Ds, 24);
    std::vector<std::uint8_t> codes(n * M);
    np::impl::encode(vecs.data(), n, np::impl::CodebookView{codewords.data(), M, Ks, Ds}, codes.data());
    for (std::size_t m = 0; m < M; ++m) {
        const std::vector<float> transposed = np::impl::transpose_codewords(&codewords[m * Ks * Ds], Ks, Ds);
        std::vector<std::uint32_t> labels(n);
        np::impl::reference::nearest_codeword(&vecs[m * Ds], n, M * Ds, transposed.data(), Ks, Ds, labels.data(),
                                              nullptr);
        for (std::size_t i = 0; i < n; ++i) CHECK(codes[i * M + m] == labels[i]);
    }
}

TEST_CASE("encode refuses a code type too narrow for Ks") {
    const std::vector<float> codewords(1 * 300 * 2, 0.0f);
    const std::vector<float> vecs(2, 0.0f);
    std::vector<std::uint8_t> codes(1);
    CHECK_THROWS_AS(np::impl::encode(vecs.data(), 1, np::impl::CodebookView{codewords.data(), 1, 300, 2}, codes.data()),
                    std::invalid_argument);
}

TEST_CASE("encode and decode do not depend on the thread count") {
    const std::size_t M = 4, Ks = 64, Ds = 4, n = 3000;  // many encode blocks
    const std::vector<float> codewords = test::uniform_vectors(M * Ks, Ds, 25);
    const std::vector<float> vecs = test::uniform_vectors(n, M * Ds, 26);
    const np::impl::CodebookView codebook{codewords.data(), M, Ks, Ds};
    std::vector<std::uint8_t> single(n * M), multi(n * M);
    np::impl::encode(vecs.data(), n, codebook, single.data(), 1);
    np::impl::encode(vecs.data(), n, codebook, multi.data(), 4);
    CHECK(single == multi);
    std::vector<float> decoded_single(n * M * Ds), decoded_multi(n * M * Ds);
    np::impl::decode(single.data(), n, codebook, decoded_single.data(), 1);
    np::impl::decode(single.data(), n, codebook, decoded_multi.data(), 3);
    CHECK(test::bitwise_equal(decoded_single, decoded_multi));
}

TEST_CASE("decode copies the coded codeword of each subspace") {
    const std::size_t M = 3, Ks = 5, Ds = 2;
    const std::vector<float> codewords = test::uniform_vectors(M * Ks, Ds, 27);
    const std::vector<std::uint16_t> codes = {0, 4, 2, 3, 1, 0};
    std::vector<float> decoded(2 * M * Ds);
    np::impl::decode(codes.data(), 2, np::impl::CodebookView{codewords.data(), M, Ks, Ds}, decoded.data());
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t d = 0; d < Ds; ++d)
                CHECK(decoded[i * M * Ds + m * Ds + d] == codewords[(m * Ks + codes[i * M + m]) * Ds + d]);
}

TEST_CASE("decode throws std::out_of_range for a code >= Ks, for each code width") {
    const std::vector<float> codewords(2 * 70000 * 1, 0.5f);
    std::vector<float> out(2 * 2);
    SUBCASE("uint8") {
        const std::vector<std::uint8_t> codes = {1, 200};
        CHECK_THROWS_AS(
            np::impl::decode(codes.data(), 1, np::impl::CodebookView{codewords.data(), 2, 100, 1}, out.data()),
            std::out_of_range);
    }
    SUBCASE("uint16") {
        const std::vector<std::uint16_t> codes = {300, 0};
        CHECK_THROWS_AS(
            np::impl::decode(codes.data(), 1, np::impl::CodebookView{codewords.data(), 2, 300, 1}, out.data()),
            std::out_of_range);
    }
    SUBCASE("uint32") {
        const std::vector<std::uint32_t> codes = {0, 70000};
        CHECK_THROWS_AS(
            np::impl::decode(codes.data(), 1, np::impl::CodebookView{codewords.data(), 2, 70000, 1}, out.data()),
            std::out_of_range);
    }
}

TEST_CASE("distance tables equal plain loops, for l2 and dot") {
    const std::size_t M = 4, Ks = 33, Ds = 5, n_queries = 3;
    const std::vector<float> codewords = test::uniform_vectors(M * Ks, Ds, 28);
    const std::vector<float> queries = test::uniform_vectors(n_queries, M * Ds, 29);
    const np::impl::CodebookView codebook{codewords.data(), M, Ks, Ds};
    for (np::Metric metric : {np::Metric::l2, np::Metric::dot}) {
        std::vector<float> tables(n_queries * M * Ks);
        np::impl::distance_tables(queries.data(), n_queries, codebook, metric, tables.data());
        for (std::size_t q = 0; q < n_queries; ++q)
            for (std::size_t m = 0; m < M; ++m)
                for (std::size_t k = 0; k < Ks; ++k) {
                    const float* sub = &queries[q * M * Ds + m * Ds];
                    const float* word = &codewords[(m * Ks + k) * Ds];
                    double expected = 0.0;
                    for (std::size_t d = 0; d < Ds; ++d)
                        expected += metric == np::Metric::l2 ? (static_cast<double>(sub[d]) - word[d]) *
                                                                   (static_cast<double>(sub[d]) - word[d])
                                                             : static_cast<double>(sub[d]) * word[d];
                    CHECK(tables[(q * M + m) * Ks + k] == doctest::Approx(expected).epsilon(1e-5));
                }
    }
}

TEST_CASE("train_codewords is fixed by the seed and free of the thread count") {
    const std::size_t n = 3000, M = 4, Ks = 32, dim = 16;
    const std::vector<float> vecs = test::uniform_vectors(n, dim, 30);
    auto train = [&](std::uint64_t seed, int threads) {
        np::impl::KMeansOptions options;
        options.iterations = 5;
        options.num_threads = threads;
        return np::impl::train_codewords(vecs.data(), n, dim, M, Ks, options, seed);
    };
    const std::vector<float> reference = train(123, 1);
    CHECK(reference.size() == M * Ks * (dim / M));
    CHECK(test::bitwise_equal(reference, train(123, 2)));
    CHECK(test::bitwise_equal(reference, train(123, 7)));
    CHECK_FALSE(test::bitwise_equal(reference, train(124, 1)));
}

TEST_CASE("each subspace's codewords are k-means of that subspace alone") {
    // Training M subspaces at once equals training each one as its own PQ with M = 1.
    const std::size_t n = 1000, M = 3, Ks = 8, Ds = 2, dim = M * Ds;
    const std::vector<float> vecs = test::uniform_vectors(n, dim, 31);
    np::impl::KMeansOptions options;
    options.init = np::KMeansInit::given;
    const std::vector<float> start = test::uniform_vectors(M * Ks, Ds, 32);
    const std::vector<float> together = np::impl::train_codewords(vecs.data(), n, dim, M, Ks, options, 1, start.data());
    for (std::size_t m = 0; m < M; ++m) {
        std::vector<float> column(n * Ds);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t d = 0; d < Ds; ++d) column[i * Ds + d] = vecs[i * dim + m * Ds + d];
        const std::vector<float> alone =
            np::impl::train_codewords(column.data(), n, Ds, 1, Ks, options, 1, &start[m * Ks * Ds]);
        for (std::size_t j = 0; j < Ks * Ds; ++j)
            CHECK(together[m * Ks * Ds + j] == doctest::Approx(alone[j]).epsilon(1e-6));
    }
}

TEST_CASE("pq functions reject shapes that would read out of bounds") {
    const std::vector<float> vecs = test::uniform_vectors(10, 6, 33);
    np::impl::KMeansOptions options;
    CHECK_THROWS_AS(np::subspace_dim_of(6, 4), std::invalid_argument);  // what fit and the bindings check
    CHECK_THROWS_AS(np::subspace_dim_of(6, 0), std::invalid_argument);
    CHECK_THROWS_AS(np::subspace_dim_of(0, 3), std::invalid_argument);
    CHECK(np::subspace_dim_of(6, 3) == 2);
    CHECK_THROWS_AS(np::impl::train_codewords(nullptr, 10, 6, 3, 2, options, 1), std::invalid_argument);
    options.init = np::KMeansInit::given;
    CHECK_THROWS_AS(np::impl::train_codewords(vecs.data(), 10, 6, 3, 2, options, 1),
                    std::invalid_argument);  // no start
    std::vector<std::uint8_t> codes(10 * 3);
    CHECK_THROWS_AS(np::impl::encode(vecs.data(), 10, np::impl::CodebookView{nullptr, 3, 2, 2}, codes.data()),
                    std::invalid_argument);
    CHECK_THROWS_AS(np::impl::encode(vecs.data(), 10, np::impl::CodebookView{vecs.data(), 0, 2, 2}, codes.data()),
                    std::invalid_argument);
}
