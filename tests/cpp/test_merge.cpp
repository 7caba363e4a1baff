// Tests for nanopq_cpp/merge.hpp: merging the searches of shards gives, bit
// for bit, the search over all their codes (ties, NaN, padding, empty and
// short shards, topk beyond the number of rows, l2 and dot), and bad input is
// refused.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/impl/adc.hpp>
#include <nanopq_cpp/merge.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_helpers.hpp"

namespace np = nanopq_cpp;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<std::uint8_t> random_codes(std::size_t n, std::size_t M, std::size_t Ks, std::uint64_t seed) {
    np::impl::Random random(seed);
    std::vector<std::uint8_t> codes(n * M);
    for (auto& code : codes) code = static_cast<std::uint8_t>(random.below(Ks));
    return codes;
}

// The search of the rows [begin, end) of `codes`, with ids made global, as a
// worker holding only that shard would return it.
np::SearchResult search_rows(const std::vector<float>& tables, std::size_t n_queries, std::size_t M, std::size_t Ks,
                             const std::vector<std::uint8_t>& codes, std::size_t begin, std::size_t end, std::size_t k,
                             np::Metric metric) {
    np::SearchResult result;
    result.n_queries = n_queries;
    result.k = k;
    result.ids.resize(n_queries * k);
    result.distances.resize(n_queries * k);
    np::impl::search(tables.data(), n_queries, M, Ks, codes.data() + begin * M, end - begin, k, metric, nullptr, 0,
                     result.ids.data(), result.distances.data());
    for (std::int64_t& id : result.ids)
        if (id != -1) id += static_cast<std::int64_t>(begin);
    return result;
}

// Searches the shards cut at `bounds` (first 0, last n) with shard_k slots
// each, merges them to k, and checks the result against one search of all rows.
void check_merge(const std::vector<float>& tables, std::size_t n_queries, std::size_t M, std::size_t Ks,
                 const std::vector<std::uint8_t>& codes, const std::vector<std::size_t>& bounds, std::size_t k,
                 std::size_t shard_k, np::Metric metric) {
    const std::size_t n = codes.size() / M;
    std::vector<np::SearchResult> shards;
    for (std::size_t s = 0; s + 1 < bounds.size(); ++s)
        shards.push_back(search_rows(tables, n_queries, M, Ks, codes, bounds[s], bounds[s + 1], shard_k, metric));
    const np::SearchResult merged = np::merge_topk(shards, k, metric);
    const np::SearchResult whole = search_rows(tables, n_queries, M, Ks, codes, 0, n, k, metric);
    CHECK(merged.n_queries == n_queries);
    CHECK(merged.k == k);
    CHECK(merged.ids == whole.ids);
    CHECK(test::bitwise_equal(merged.distances, whole.distances));
}

}  // namespace

TEST_CASE("merging shards' searches equals one search, ties included") {
    // Ks = 4 and M = 2: 16 distinct codes among thousands of rows, so nearly
    // every distance is tied, within shards and across them.
    const std::size_t M = 2, Ks = 4, n = 9000, n_queries = 3;
    const std::vector<float> tables = test::uniform_vectors(n_queries * M, Ks, 51);
    const std::vector<std::uint8_t> codes = random_codes(n, M, Ks, 52);
    // An empty shard, a one-row shard, a shard longer than a scan block.
    const std::vector<std::size_t> bounds = {0, 0, 1, 2500, 2501, 2501, 9000};
    for (np::Metric metric : {np::Metric::l2, np::Metric::dot}) {
        CAPTURE(np::metric_name(metric));
        for (std::size_t k : {1, 7, 600}) {
            CAPTURE(k);
            check_merge(tables, n_queries, M, Ks, codes, bounds, k, k, metric);
            check_merge(tables, n_queries, M, Ks, codes, bounds, k, k + 5, metric);  // shards asked for more
        }
    }
}

TEST_CASE("merging with topk beyond the number of rows pads as search does") {
    const std::size_t M = 4, Ks = 16, n = 20, n_queries = 2;
    const std::vector<float> tables = test::uniform_vectors(n_queries * M, Ks, 53);
    const std::vector<std::uint8_t> codes = random_codes(n, M, Ks, 54);
    for (np::Metric metric : {np::Metric::l2, np::Metric::dot}) {
        check_merge(tables, n_queries, M, Ks, codes, {0, 5, 5, 20}, 30, 30, metric);
        check_merge(tables, n_queries, M, Ks, codes, {0, 20}, 20, 20, metric);
        // Shards shorter than k but searched with topk >= their rows.
        check_merge(tables, n_queries, M, Ks, codes, {0, 3, 8, 20}, 10, 12, metric);
    }
}

TEST_CASE("NaN distances rank last, by id, after a merge as in search") {
    // +inf + -inf = NaN: rows whose codes pick both get a NaN distance.
    const std::size_t M = 2, Ks = 4, n = 300, n_queries = 1;
    std::vector<float> tables = test::uniform_vectors(n_queries * M, Ks, 55);
    tables[0 * Ks + 1] = kInf;
    tables[1 * Ks + 2] = -kInf;
    const std::vector<std::uint8_t> codes = random_codes(n, M, Ks, 56);
    for (np::Metric metric : {np::Metric::l2, np::Metric::dot}) {
        check_merge(tables, n_queries, M, Ks, codes, {0, 100, 170, 300}, 290, 290, metric);
        check_merge(tables, n_queries, M, Ks, codes, {0, 100, 170, 300}, 5, 5, metric);
    }
}

TEST_CASE("merge_topk skips -1 slots and takes candidates in any order") {
    const std::vector<std::int64_t> ids_a = {7, -1, 2, -1}, ids_b = {5, 9, -1};
    const std::vector<float> distances_a = {3.0f, 0.0f, 1.0f, -5.0f}, distances_b = {1.0f, 0.5f, 100.0f};
    const std::vector<np::ShardTopk> shards = {{ids_a.data(), distances_a.data(), 4},
                                               {ids_b.data(), distances_b.data(), 3},
                                               {nullptr, nullptr, 0}};  // an empty shard
    std::vector<std::int64_t> ids(6);
    std::vector<float> distances(6);
    np::merge_topk(shards.data(), shards.size(), 1, 6, np::Metric::l2, ids.data(), distances.data());
    CHECK(ids == std::vector<std::int64_t>{9, 2, 5, 7, -1, -1});
    CHECK(distances == std::vector<float>{0.5f, 1.0f, 1.0f, 3.0f, kInf, kInf});
    np::merge_topk(shards.data(), shards.size(), 1, 3, np::Metric::dot, ids.data(), distances.data());
    CHECK(std::vector<std::int64_t>(ids.begin(), ids.begin() + 3) == std::vector<std::int64_t>{7, 2, 5});
    CHECK(std::vector<float>(distances.begin(), distances.begin() + 3) == std::vector<float>{3.0f, 1.0f, 1.0f});
    // No shard, or only empty ones: all padding, -inf for dot.
    np::merge_topk(shards.data() + 2, 1, 1, 2, np::Metric::dot, ids.data(), distances.data());
    CHECK(ids[0] == -1);
    CHECK(ids[1] == -1);
    CHECK(distances[0] == -kInf);
    CHECK(distances[1] == -kInf);
}

TEST_CASE("merge_topk refuses bad input") {
    const std::vector<std::int64_t> ids = {1, 2}, shifted_padding = {1, -4};
    const std::vector<float> distances = {0.0f, 1.0f};
    std::vector<std::int64_t> out_ids(2);
    std::vector<float> out_distances(2);
    const np::ShardTopk good{ids.data(), distances.data(), 2};
    SUBCASE("topk 0") {
        CHECK_THROWS_AS(np::merge_topk(&good, 1, 1, 0, np::Metric::l2, out_ids.data(), out_distances.data()),
                        std::invalid_argument);
    }
    SUBCASE("an id below -1, named with its place") {
        const np::ShardTopk bad{shifted_padding.data(), distances.data(), 2};
        const np::ShardTopk shards[] = {good, bad};
        try {
            np::merge_topk(shards, 2, 1, 2, np::Metric::l2, out_ids.data(), out_distances.data());
            FAIL("no exception");
        } catch (const std::invalid_argument& error) {
            CHECK(std::string(error.what()).find("shard 1 hold -4 at [0, 1]") != std::string::npos);
        }
    }
    SUBCASE("missing buffers") {
        const np::ShardTopk no_buffer{nullptr, distances.data(), 2};
        CHECK_THROWS_AS(np::merge_topk(&no_buffer, 1, 1, 2, np::Metric::l2, out_ids.data(), out_distances.data()),
                        std::invalid_argument);
        CHECK_THROWS_AS(np::merge_topk(&good, 1, 1, 2, np::Metric::l2, nullptr, out_distances.data()),
                        std::invalid_argument);
    }
    SUBCASE("SearchResults that disagree on the number of queries, or hold the wrong number of slots") {
        np::SearchResult one_query{1, 2, ids, distances};
        np::SearchResult two_queries{2, 1, ids, distances};
        np::SearchResult short_result{1, 3, ids, distances};
        CHECK_THROWS_AS(np::merge_topk({one_query, two_queries}, 2, np::Metric::l2), std::invalid_argument);
        CHECK_THROWS_AS(np::merge_topk({one_query, short_result}, 2, np::Metric::l2), std::invalid_argument);
        CHECK_THROWS_AS(np::merge_topk(std::vector<np::SearchResult>{}, 2, np::Metric::l2), std::invalid_argument);
        CHECK(np::merge_topk({one_query, one_query}, 4, np::Metric::l2).ids.size() == 4);
    }
}

TEST_CASE("merge_topk does not depend on the thread count") {
    const std::size_t M = 2, Ks = 8, n = 5000, n_queries = 300;  // several tasks of queries
    const std::vector<float> tables = test::uniform_vectors(n_queries * M, Ks, 57);
    const std::vector<std::uint8_t> codes = random_codes(n, M, Ks, 58);
    const std::vector<std::size_t> bounds = {0, 1000, 3000, n};
    std::vector<np::SearchResult> shards;
    for (std::size_t s = 0; s + 1 < bounds.size(); ++s)
        shards.push_back(search_rows(tables, n_queries, M, Ks, codes, bounds[s], bounds[s + 1], 20, np::Metric::l2));
    const np::SearchResult single = np::merge_topk(shards, 20, np::Metric::l2, 1);
    for (int threads : {2, 5}) {
        const np::SearchResult merged = np::merge_topk(shards, 20, np::Metric::l2, threads);
        CHECK(merged.ids == single.ids);
        CHECK(test::bitwise_equal(merged.distances, single.distances));
    }
}
