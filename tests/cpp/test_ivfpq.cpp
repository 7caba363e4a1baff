// The residual IVF-PQ index in C++: exact within the probed lists against a
// brute-force reference built from the quantizer's own tables, ids and
// removal, and files read back as written.

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/nanopq_cpp.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "test_helpers.hpp"

using namespace nanopq_cpp;

namespace {

constexpr std::size_t kN = 3000, kDim = 16, kQueries = 12, kLists = 20;

IVFPQ trained(std::size_t Ks, Metric metric, bool by_residual, const std::vector<float>& data) {
    IVFPQ index(4, Ks, kLists, metric, by_residual);
    IVFPQTrainingOptions options;
    options.iterations = 4;
    index.train(data.data(), kN, kDim, options);
    index.add(data.data(), kN);
    return index;
}

// The distance of every code of every probed list, by the definition of
// impl/ivf_scan.hpp, through the quantizer's dtable; best first, ties to the
// lower list, then the lower place; the first k, as (distance, id).
std::vector<std::pair<float, std::int64_t>> reference(const IVFPQ& index, const float* query,
                                                      const std::vector<std::size_t>& probed, std::size_t k) {
    const ProductQuantizer& pq = index.pq();
    const std::size_t D = index.dim(), Ks = index.n_codewords();
    const bool dot = index.metric() == Metric::dot;
    std::vector<std::tuple<float, std::size_t, std::size_t, std::int64_t>> all;  // key, list, place, id
    for (std::size_t l : probed) {
        std::vector<float> shifted(query, query + D);
        if (index.by_residual() && !dot)
            for (std::size_t d = 0; d < D; ++d) shifted[d] -= index.centroids()[l * D + d];
        const DistanceTables tables = pq.dtable(shifted.data());
        std::vector<float> table = tables.values();
        if (index.by_residual() && dot) {
            float product = 0.0f;  // the column kernels' order is not this one: compared with a tolerance below
            for (std::size_t d = 0; d < D; ++d) product += query[d] * index.centroids()[l * D + d];
            for (std::size_t c = 0; c < Ks; ++c) table[c] += product;
        }
        const DistanceTables list_table(table, 1, pq.n_subspaces(), Ks, pq.metric());
        const std::vector<float> distances = list_table.adist(index.list_codes(l));
        for (std::size_t j = 0; j < distances.size(); ++j)
            all.emplace_back(dot ? -distances[j] : distances[j], l, j, index.list_ids(l)[j]);
    }
    std::sort(all.begin(), all.end());
    std::vector<std::pair<float, std::int64_t>> top;
    for (std::size_t j = 0; j < std::min(k, all.size()); ++j)
        top.emplace_back(dot ? -std::get<0>(all[j]) : std::get<0>(all[j]), std::get<3>(all[j]));
    return top;
}

// The `count` lists whose centroids are nearest the query, in double.
std::vector<std::size_t> nearest_lists(const IVFPQ& index, const float* query, std::size_t count) {
    std::vector<std::pair<double, std::size_t>> order;
    for (std::size_t l = 0; l < index.n_lists(); ++l) {
        double distance = 0.0;
        for (std::size_t d = 0; d < index.dim(); ++d) {
            const double diff = query[d] - index.centroids()[l * index.dim() + d];
            distance += diff * diff;
        }
        order.emplace_back(distance, l);
    }
    std::sort(order.begin(), order.end());
    std::vector<std::size_t> lists;
    for (std::size_t r = 0; r < count; ++r) lists.push_back(order[r].second);
    return lists;
}

std::vector<std::size_t> all_lists() {
    std::vector<std::size_t> lists(kLists);
    for (std::size_t l = 0; l < kLists; ++l) lists[l] = l;
    return lists;
}

}  // namespace

TEST_CASE("nprobe = nlist is the exact scan of every code, at each code width and metric") {
    const std::vector<float> data = test::clustered_vectors(kN, kDim, 24, 5);
    const std::vector<float> queries = test::clustered_vectors(kQueries, kDim, 24, 6);
    for (std::size_t Ks : {16, 256, 300}) {
        for (Metric metric : {Metric::l2, Metric::dot}) {
            for (bool by_residual : {true, false}) {
                CAPTURE(Ks);
                CAPTURE(by_residual);
                const IVFPQ index = trained(Ks, metric, by_residual, data);
                CHECK(index.size() == kN);
                const SearchResult found = index.search(queries.data(), kQueries, 10, kLists);
                for (std::size_t q = 0; q < kQueries; ++q) {
                    const auto expected = reference(index, queries.data() + q * kDim, all_lists(), 10);
                    for (std::size_t j = 0; j < 10; ++j) {
                        if (metric == Metric::l2 || !by_residual) {
                            CHECK(found.ids[q * 10 + j] == expected[j].second);
                            CHECK(found.distances[q * 10 + j] == expected[j].first);
                        } else {
                            CHECK(found.distances[q * 10 + j] == doctest::Approx(expected[j].first).epsilon(1e-5));
                        }
                    }
                }
            }
        }
    }
}

TEST_CASE("few probes search the nearest lists only, the same at any thread count") {
    const std::vector<float> data = test::clustered_vectors(kN, kDim, 24, 5);
    const std::vector<float> queries = test::clustered_vectors(kQueries, kDim, 24, 6);
    IVFPQ index = trained(256, Metric::l2, true, data);
    const SearchResult found = index.search(queries.data(), kQueries, 5, 3);
    for (std::size_t q = 0; q < kQueries; ++q) {
        const auto expected =
            reference(index, queries.data() + q * kDim, nearest_lists(index, queries.data() + q * kDim, 3), 5);
        for (std::size_t j = 0; j < expected.size(); ++j) CHECK(found.ids[q * 5 + j] == expected[j].second);
    }
    for (int threads : {1, 2, 3}) {
        index.set_num_threads(threads);
        const SearchResult again = index.search(queries.data(), kQueries, 5, 3);
        CHECK(again.ids == found.ids);
        CHECK(again.distances == found.distances);
    }
}

TEST_CASE("lists long enough for the fast scan: levels made from the codewords keep the result exact") {
    // Four lists of about 1500 codes: past a query's first list, an l2 list's
    // levels come straight from the codewords, its first passing rows too,
    // and its table is made only if more pass (ivf_scan.hpp scan_from_codewords,
    // and the batch's list by list scan).
    constexpr std::size_t kLong = 6000, kFew = 4;
    const std::vector<float> data = test::clustered_vectors(kLong, kDim, 24, 11);
    // Queries halfway between two data points, and k = 60: the top k spans lists.
    std::vector<float> queries(40 * kDim);
    for (std::size_t q = 0; q < 40; ++q)
        for (std::size_t d = 0; d < kDim; ++d)
            queries[q * kDim + d] =
                0.5f * (data[(q * 131) % kLong * kDim + d] + data[(q * 977 + 5) % kLong * kDim + d]);
    constexpr std::size_t k = 60;
    for (std::size_t Ks : {16, 256}) {
        CAPTURE(Ks);
        IVFPQ index(8, Ks, kFew, Metric::l2, true);  // Ds = 2, as PQ32x8 on 64-d
        IVFPQTrainingOptions options;
        options.iterations = 4;
        index.train(data.data(), kLong, kDim, options);
        index.add(data.data(), kLong);
        for (std::size_t nprobe : {2, 4}) {
            CAPTURE(nprobe);
            for (std::size_t n : {std::size_t{1}, std::size_t{40}}) {  // one by one, and a batch
                const SearchResult found = n == 1 ? SearchResult{} : index.search(queries.data(), n, k, nprobe);
                for (std::size_t q = 0; q < 40; ++q) {
                    const SearchResult one =
                        n == 1 ? index.search(queries.data() + q * kDim, 1, k, nprobe) : SearchResult{};
                    const float* query = queries.data() + q * kDim;
                    const auto expected = reference(index, query, nearest_lists(index, query, nprobe), k);
                    for (std::size_t j = 0; j < k; ++j) {
                        const std::size_t at = n == 1 ? j : q * k + j;
                        CHECK((n == 1 ? one : found).ids[at] == expected[j].second);
                        CHECK((n == 1 ? one : found).distances[at] == expected[j].first);
                    }
                }
            }
        }
    }
}

TEST_CASE("ids, subsets and removal") {
    const std::vector<float> data = test::clustered_vectors(kN, kDim, 24, 5);
    IVFPQ index(4, 256, kLists);
    IVFPQTrainingOptions options;
    options.iterations = 3;
    index.train(data.data(), kN, kDim, options);
    std::vector<std::int64_t> ids(kN);
    for (std::size_t i = 0; i < kN; ++i) ids[i] = static_cast<std::int64_t>(10 * i + 7);
    index.add(data.data(), kN, ids.data());
    CHECK(index.next_id() == ids.back() + 1);
    CHECK_THROWS_AS(index.add(data.data(), 1, ids.data()), std::invalid_argument);  // already there
    const SearchResult self = index.search(data.data(), 1, 1, kLists);
    CHECK(self.ids[0] == 7);
    const std::int64_t subset[] = {17, 27};
    const SearchResult within = index.search(data.data(), 1, 3, kLists, subset, 2);
    CHECK(((within.ids[0] == 17 && within.ids[1] == 27) || (within.ids[0] == 27 && within.ids[1] == 17)));
    CHECK(within.ids[2] == -1);
    const std::int64_t gone[] = {7, 17};
    index.remove(gone, 2);
    CHECK(index.size() == kN - 2);
    const SearchResult after = index.search(data.data(), 1, 5, kLists);
    for (std::int64_t id : after.ids) CHECK((id != 7 && id != 17));
    CHECK_THROWS_AS(index.remove(gone, 1), std::out_of_range);
    const std::int64_t twice[] = {27, 27};
    CHECK_THROWS_AS(index.remove(twice, 2), std::invalid_argument);
    CHECK(index.size() == kN - 2);
}

TEST_CASE("files read back as written; damaged ones are refused") {
    const std::vector<float> data = test::clustered_vectors(kN, kDim, 24, 5);
    const std::vector<float> queries = test::clustered_vectors(kQueries, kDim, 24, 6);
    for (std::size_t Ks : {16, 300}) {
        const IVFPQ index = trained(Ks, Metric::l2, true, data);
        std::vector<unsigned char> bytes = ivfpq_to_bytes(index);
        const IVFPQ loaded = ivfpq_from_bytes(bytes.data(), bytes.size());
        CHECK(loaded.size() == index.size());
        CHECK(loaded.next_id() == index.next_id());
        const SearchResult a = index.search(queries.data(), kQueries, 10, 4);
        const SearchResult b = loaded.search(queries.data(), kQueries, 10, 4);
        CHECK(a.ids == b.ids);
        CHECK(a.distances == b.distances);
        const std::string path = "test_ivfpq_index.npqivf";
        save_ivfpq(index, path);
        CHECK(load_ivfpq(path).size() == index.size());
        std::remove(path.c_str());
        bytes[bytes.size() - 1] ^= 1;
        CHECK_THROWS_AS(ivfpq_from_bytes(bytes.data(), bytes.size()), ModelFileError);
        CHECK_THROWS_AS(ivfpq_from_bytes(bytes.data(), 40), ModelFileError);
    }
}

TEST_CASE("bad arguments are refused") {
    const std::vector<float> data = test::clustered_vectors(kN, kDim, 24, 5);
    IVFPQ index(4, 256, kLists);
    CHECK_THROWS_AS(index.search(data.data(), 1, 1, 1), std::logic_error);
    CHECK_THROWS_AS(index.add(data.data(), 1), std::logic_error);
    CHECK_THROWS_AS(index.train(data.data(), 10, kDim), std::invalid_argument);  // fewer than nlist
    CHECK_THROWS_AS(index.train(data.data(), kN, 15), std::invalid_argument);    // not a multiple of M
    index.train(data.data(), kN, kDim);
    CHECK_THROWS_AS(index.search(data.data(), 1, 0, 1), std::invalid_argument);
    CHECK_THROWS_AS(index.search(data.data(), 1, 1, 0), std::invalid_argument);
    std::vector<float> bad(data.begin(), data.begin() + kDim);
    bad[3] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(index.add(bad.data(), 1), std::invalid_argument);
    const std::uint32_t wrong_list = kLists;
    Codes codes(1, 4, 1);
    CHECK_THROWS_AS(index.add_encoded(&wrong_list, codes), std::out_of_range);
    CHECK(index.size() == 0);
}

TEST_CASE("a batch searches its lists list by list, with the results of queries searched one at a time") {
    const std::vector<float> data = test::clustered_vectors(kN, kDim, 24, 5);
    const std::vector<float> queries = test::clustered_vectors(64, kDim, 24, 9);
    for (Metric metric : {Metric::l2, Metric::dot}) {
        for (std::size_t Ks : {16, 256}) {
            CAPTURE(Ks);
            IVFPQ index = trained(Ks, metric, true, data);
            for (std::size_t nprobe : {2, 5}) {
                const SearchResult batch = index.search(queries.data(), 64, 7, nprobe);
                for (std::size_t q = 0; q < 64; ++q) {
                    const SearchResult one = index.search(queries.data() + q * kDim, 1, 7, nprobe);
                    for (std::size_t j = 0; j < 7; ++j) {
                        CHECK(batch.ids[q * 7 + j] == one.ids[j]);
                        CHECK(batch.distances[q * 7 + j] == one.distances[j]);
                    }
                }
                for (int threads : {1, 2, 3}) {
                    index.set_num_threads(threads);
                    const SearchResult again = index.search(queries.data(), 64, 7, nprobe);
                    CHECK(again.ids == batch.ids);
                    CHECK(again.distances == batch.distances);
                }
                index.set_num_threads(0);
            }
        }
    }
}
