// Tests for nanopq_cpp/impl/adc.hpp: asymmetric distances against the sum of table
// entries for each code width, top-k against a full sort, invalid codes, and
// results free of the thread count.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/impl/adc.hpp>

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

template <class code_t>
std::vector<code_t> random_codes(std::size_t n, std::size_t M, std::size_t Ks, std::uint64_t seed) {
    np::impl::Random random(seed);
    std::vector<code_t> codes(n * M);
    for (auto& code : codes) code = static_cast<code_t>(random.below(Ks));
    return codes;
}

// The sum of each code's M table entries (nanopq's
// np.sum(dtable[range(M), codes], axis=1)), in double: the core sums in float,
// in an order of its choosing, so it agrees to rounding.
template <class code_t>
std::vector<double> table_sums(const std::vector<float>& tables, std::size_t n_queries, std::size_t M, std::size_t Ks,
                               const std::vector<code_t>& codes) {
    const std::size_t n = codes.size() / M;
    std::vector<double> out(n_queries * n);
    for (std::size_t q = 0; q < n_queries; ++q)
        for (std::size_t i = 0; i < n; ++i) {
            double sum = 0.0;
            for (std::size_t m = 0; m < M; ++m) sum += tables[(q * M + m) * Ks + codes[i * M + m]];
            out[q * n + i] = sum;
        }
    return out;
}

template <class code_t>
void check_adist(std::size_t M, std::size_t Ks, std::size_t n) {
    const std::size_t n_queries = 2;
    const std::vector<float> tables = test::uniform_vectors(n_queries * M, Ks, 41);
    const std::vector<code_t> codes = random_codes<code_t>(n, M, Ks, 42);
    std::vector<float> distances(n_queries * n);
    np::impl::adist(tables.data(), n_queries, M, Ks, codes.data(), n, distances.data());
    const std::vector<double> expected = table_sums(tables, n_queries, M, Ks, codes);
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK(distances[i] == doctest::Approx(expected[i]).epsilon(1e-5));
}

// Ids of the k best distances by a full stable sort (ties to the lower id).
std::vector<std::int64_t> sorted_ids(const std::vector<float>& distances, std::size_t k, bool largest_first) {
    std::vector<std::int64_t> ids(distances.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::stable_sort(ids.begin(), ids.end(), [&](std::int64_t a, std::int64_t b) {
        return largest_first ? distances[a] > distances[b] : distances[a] < distances[b];
    });
    ids.resize(std::min(k, ids.size()));
    return ids;
}

}  // namespace

TEST_CASE("adist is the sum of table entries, for each code width") {
    SUBCASE("uint8") { check_adist<std::uint8_t>(8, 256, 5000); }
    SUBCASE("uint16") { check_adist<std::uint16_t>(4, 1000, 3000); }
    SUBCASE("uint32") { check_adist<std::uint32_t>(2, 70000, 2000); }
}

TEST_CASE("adist throws std::out_of_range for a code >= Ks, for each code width") {
    const std::vector<float> tables(2 * 70000, 1.0f);
    std::vector<float> out(2);
    SUBCASE("uint8") {
        const std::vector<std::uint8_t> codes = {0, 0, 3, 100};
        CHECK_THROWS_AS(np::impl::adist(tables.data(), 1, 2, 100, codes.data(), 2, out.data()), std::out_of_range);
    }
    SUBCASE("uint16") {
        const std::vector<std::uint16_t> codes = {999, 1000};
        CHECK_THROWS_AS(np::impl::adist(tables.data(), 1, 2, 1000, codes.data(), 1, out.data()), std::out_of_range);
    }
    SUBCASE("uint32") {
        const std::vector<std::uint32_t> codes = {70000, 0};
        CHECK_THROWS_AS(np::impl::adist(tables.data(), 1, 2, 70000, codes.data(), 1, out.data()), std::out_of_range);
    }
    SUBCASE("the message names the culprit") {
        const std::vector<std::uint8_t> codes = {0, 0, 3, 100};
        try {
            np::impl::adist(tables.data(), 1, 2, 100, codes.data(), 2, out.data());
            FAIL("no exception");
        } catch (const std::out_of_range& error) {
            CHECK(std::string(error.what()).find("codes[1, 1] = 100") != std::string::npos);
        }
    }
}

TEST_CASE("search returns the k best codes of a full sort of adist, for l2 and dot") {
    const std::size_t M = 4, Ks = 16, n = 9000, n_queries = 3, k = 25;  // spans several scan blocks
    const std::vector<float> tables = test::uniform_vectors(n_queries * M, Ks, 43);
    const std::vector<std::uint8_t> codes = random_codes<std::uint8_t>(n, M, Ks, 44);
    std::vector<float> distances(n_queries * n);
    np::impl::adist(tables.data(), n_queries, M, Ks, codes.data(), n, distances.data());
    for (np::Metric metric : {np::Metric::l2, np::Metric::dot}) {
        std::vector<std::int64_t> ids(n_queries * k);
        std::vector<float> best(n_queries * k);
        np::impl::search(tables.data(), n_queries, M, Ks, codes.data(), n, k, metric, nullptr, 0, ids.data(),
                         best.data());
        for (std::size_t q = 0; q < n_queries; ++q) {
            const std::vector<float> row(distances.begin() + q * n, distances.begin() + (q + 1) * n);
            const std::vector<std::int64_t> expected = sorted_ids(row, k, metric == np::Metric::dot);
            for (std::size_t j = 0; j < k; ++j) {
                CHECK(ids[q * k + j] == expected[j]);
                CHECK(best[q * k + j] == row[expected[j]]);
            }
        }
    }
}

TEST_CASE("search and adist with no queries, or no codes, write nothing and do not fail") {
    const std::size_t M = 4, Ks = 16;
    const std::vector<float> tables = test::uniform_vectors(2 * M, Ks, 5);
    const std::vector<std::uint8_t> codes = random_codes<std::uint8_t>(100, M, Ks, 6);
    std::vector<std::int64_t> ids(6, 7);
    std::vector<float> distances(6, 7.0f);
    for (int threads : {1, 2}) {
        np::impl::search(tables.data(), 0, M, Ks, codes.data(), 100, 3, np::Metric::l2, nullptr, 0, ids.data(),
                         distances.data(), threads);
        np::impl::adist(tables.data(), 0, M, Ks, codes.data(), 100, distances.data(), threads);
        CHECK(ids == std::vector<std::int64_t>(6, 7));
        CHECK(distances == std::vector<float>(6, 7.0f));
        np::impl::search(tables.data(), 2, M, Ks, codes.data(), 0, 3, np::Metric::dot, nullptr, 0, ids.data(),
                         distances.data(), threads);
        CHECK(ids == std::vector<std::int64_t>(6, -1));
        CHECK(distances == std::vector<float>(6, -std::numeric_limits<float>::infinity()));
        std::fill(ids.begin(), ids.end(), 7);
        std::fill(distances.begin(), distances.end(), 7.0f);
    }
}

TEST_CASE("search within a subset, and with fewer candidates than k") {
    const std::size_t M = 2, Ks = 8, n = 100, k = 5;
    const std::vector<float> tables = test::uniform_vectors(M, Ks, 45);
    const std::vector<std::uint16_t> codes = random_codes<std::uint16_t>(n, M, Ks, 46);
    std::vector<float> distances(n);
    np::impl::adist(tables.data(), 1, M, Ks, codes.data(), n, distances.data());
    const std::vector<std::int64_t> subset = {90, 3, 57};
    std::vector<std::int64_t> ids(k);
    std::vector<float> best(k);
    for (np::Metric metric : {np::Metric::l2, np::Metric::dot}) {
        np::impl::search(tables.data(), 1, M, Ks, codes.data(), n, k, metric, subset.data(), subset.size(), ids.data(),
                         best.data());
        std::vector<float> subset_distances;
        for (std::int64_t id : subset) subset_distances.push_back(distances[id]);
        const std::vector<std::int64_t> order = sorted_ids(subset_distances, k, metric == np::Metric::dot);
        for (std::size_t j = 0; j < subset.size(); ++j) CHECK(ids[j] == subset[order[j]]);
        const float missing =
            metric == np::Metric::l2 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
        for (std::size_t j = subset.size(); j < k; ++j) {
            CHECK(ids[j] == -1);
            CHECK(best[j] == missing);
        }
    }
}

TEST_CASE("search rejects bad subsets, codes and k") {
    const std::vector<float> tables(2 * 4, 0.0f);
    const std::vector<std::uint8_t> codes = {0, 1, 2, 3};
    std::vector<std::int64_t> ids(2);
    std::vector<float> best(2);
    const std::vector<std::int64_t> outside = {0, 2}, negative = {-1};
    CHECK_THROWS_AS(np::impl::search(tables.data(), 1, 2, 4, codes.data(), 2, 2, np::Metric::l2, outside.data(), 2,
                                     ids.data(), best.data()),
                    std::out_of_range);
    CHECK_THROWS_AS(np::impl::search(tables.data(), 1, 2, 4, codes.data(), 2, 2, np::Metric::l2, negative.data(), 1,
                                     ids.data(), best.data()),
                    std::out_of_range);
    CHECK_THROWS_AS(np::impl::search(tables.data(), 1, 2, 3, codes.data(), 2, 2, np::Metric::l2, nullptr, 0, ids.data(),
                                     best.data()),
                    std::out_of_range);  // code 3 with Ks = 3
    CHECK_THROWS_AS(np::impl::search(tables.data(), 1, 2, 4, codes.data(), 2, 0, np::Metric::l2, nullptr, 0, ids.data(),
                                     best.data()),
                    std::invalid_argument);
}

TEST_CASE("adist and search do not depend on the thread count") {
    const std::size_t M = 8, Ks = 256, n = 20000, n_queries = 4, k = 10;
    const std::vector<float> tables = test::uniform_vectors(n_queries * M, Ks, 47);
    const std::vector<std::uint8_t> codes = random_codes<std::uint8_t>(n, M, Ks, 48);
    std::vector<std::vector<float>> distances;
    std::vector<std::vector<std::int64_t>> ids;
    for (int threads : {1, 2, 5}) {
        std::vector<float> out(n_queries * n), best(n_queries * k);
        std::vector<std::int64_t> found(n_queries * k);
        np::impl::adist(tables.data(), n_queries, M, Ks, codes.data(), n, out.data(), threads);
        np::impl::search(tables.data(), n_queries, M, Ks, codes.data(), n, k, np::Metric::l2, nullptr, 0, found.data(),
                         best.data(), threads);
        distances.push_back(out);
        ids.push_back(found);
    }
    for (std::size_t t = 1; t < distances.size(); ++t) {
        CHECK(test::bitwise_equal(distances[t], distances[0]));
        CHECK(ids[t] == ids[0]);
    }
}
