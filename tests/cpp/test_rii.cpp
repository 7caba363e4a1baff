// The inverted index in C++: exact within the lists, the flat search at
// L = N, ids and removal, and index files read back as written.

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/nanopq_cpp.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "test_helpers.hpp"

using namespace nanopq_cpp;

namespace {

struct Fixture {
    ProductQuantizer pq;
    std::vector<float> data, queries;
    Codes codes;
    static constexpr std::size_t kN = 3000, kDim = 16, kQueries = 20;

    explicit Fixture(std::size_t Ks = 256, Metric metric = Metric::l2) : pq(4, Ks, metric) {
        data = test::clustered_vectors(kN, kDim, 24, 5);
        queries = test::clustered_vectors(kQueries, kDim, 24, 6);
        PQTrainingOptions options;
        options.iterations = 5;
        pq.fit(data.data(), kN, kDim, options);
        codes = pq.encode(data.data(), kN);
    }

    Rii index() const {
        Rii rii(pq.codewords(), pq.n_subspaces(), pq.n_codewords(), pq.subspace_dim(), pq.metric());
        rii.add(codes.data<std::uint8_t>(), kN);
        rii.reconfigure(30);
        return rii;
    }
};

}  // namespace

TEST_CASE("L = N gives the flat exact search, ivf and linear alike") {
    for (std::size_t Ks : {16, 256}) {
        for (Metric metric : {Metric::l2, Metric::dot}) {
            const Fixture fixture(Ks, metric);
            const Rii rii = fixture.index();
            const DistanceTables tables = fixture.pq.dtable(fixture.queries.data(), Fixture::kQueries);
            const SearchResult flat = tables.search(fixture.codes, 10);
            for (RiiMethod method : {RiiMethod::ivf, RiiMethod::linear}) {
                const SearchResult found = rii.search(fixture.queries.data(), tables.values().data(), Fixture::kQueries,
                                                      10, Fixture::kN, nullptr, 0, method);
                CHECK(found.ids == flat.ids);
                CHECK(found.distances == flat.distances);
            }
            if (metric == Metric::l2) {  // tables made by the index: the same l2 entries
                const SearchResult made = rii.search(fixture.queries.data(), Fixture::kQueries, 10, Fixture::kN);
                CHECK(made.ids == flat.ids);
                CHECK(made.distances == flat.distances);
            }
        }
    }
}

TEST_CASE("a short L returns rows of the nearest lists, the exact top-k among them") {
    const Fixture fixture;
    const Rii rii = fixture.index();
    const SearchResult found = rii.search(fixture.queries.data(), Fixture::kQueries, 5, 200);
    const DistanceTables tables = fixture.pq.dtable(fixture.queries.data(), Fixture::kQueries);
    const std::vector<std::int64_t> lists = rii.row_lists();
    for (std::size_t q = 0; q < Fixture::kQueries; ++q) {
        // the candidates: every row of the lists the results come from is a
        // superset-free check: each result's distance is its exact ADC distance
        const std::vector<float> distances = tables.adist(fixture.codes);
        for (std::size_t j = 0; j < 5; ++j) {
            const std::int64_t id = found.ids[q * 5 + j];
            REQUIRE(id >= 0);
            CHECK(found.distances[q * 5 + j] == distances[q * Fixture::kN + static_cast<std::size_t>(id)]);
            CHECK(lists[static_cast<std::size_t>(id)] >= 0);
            if (j > 0) CHECK(found.distances[q * 5 + j - 1] <= found.distances[q * 5 + j]);
        }
    }
}

TEST_CASE("own ids, removal, restore and index files") {
    const Fixture fixture;
    Rii rii(fixture.pq.codewords(), 4, 256, fixture.pq.subspace_dim());
    std::vector<std::int64_t> ids(Fixture::kN);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = 100 + 3 * static_cast<std::int64_t>(i);
    rii.add(fixture.codes.data<std::uint8_t>(), Fixture::kN, ids.data());
    rii.reconfigure(20);
    CHECK(rii.next_id() == ids.back() + 1);
    CHECK_THROWS_AS(rii.add(fixture.codes.data<std::uint8_t>(), 1, ids.data()), std::invalid_argument);
    const std::int64_t missing = 5;
    CHECK_THROWS_AS(rii.remove(&missing, 1), std::out_of_range);
    const std::vector<std::int64_t> gone = {ids[0], ids[7], ids[100]};
    rii.remove(gone.data(), gone.size());
    CHECK(rii.size() == Fixture::kN - 3);
    const SearchResult found = rii.search(fixture.queries.data(), Fixture::kQueries, 10, rii.size());
    for (std::int64_t id : found.ids) CHECK(std::find(gone.begin(), gone.end(), id) == gone.end());

    const std::string path = "test_rii_index.npqidx";
    save_index(rii, AnyQuantizer(fixture.pq), path);
    const LoadedRii loaded = load_index(path);
    std::remove(path.c_str());
    CHECK(loaded.index.ids() == rii.ids());
    CHECK(loaded.index.codes() == rii.codes());
    CHECK(loaded.index.next_id() == rii.next_id());
    const SearchResult again = loaded.index.search(fixture.queries.data(), Fixture::kQueries, 10, rii.size());
    CHECK(again.ids == found.ids);
    CHECK(again.distances == found.distances);

    std::vector<unsigned char> bytes = index_to_bytes(rii, AnyQuantizer(fixture.pq));
    bytes[bytes.size() - 3] ^= 0x10;
    CHECK_THROWS_AS(index_from_bytes(bytes.data(), bytes.size()), ModelFileError);
    const ProductQuantizer other(4, 256);
    CHECK_THROWS_AS(index_to_bytes(rii, AnyQuantizer(other)), ModelFileError);
}

TEST_CASE("bad arguments throw") {
    const Fixture fixture;
    Rii rii(fixture.pq.codewords(), 4, 256, fixture.pq.subspace_dim());
    CHECK_THROWS_AS(rii.reconfigure(1), std::invalid_argument);  // no rows
    rii.add(fixture.codes.data<std::uint8_t>(), 100);
    CHECK_THROWS_AS(rii.search(fixture.queries.data(), 1, 5, 100), std::invalid_argument);  // no lists for ivf
    rii.reconfigure(5);
    CHECK_THROWS_AS(rii.search(fixture.queries.data(), 1, 5, 3), std::invalid_argument);  // L < k
    std::vector<std::uint8_t> bad(4, 0);
    bad[2] = 255;
    Rii small(std::vector<float>(4 * 16 * 4, 0.5f), 4, 16, 4);
    CHECK_THROWS_AS(small.add(bad.data(), 1), std::out_of_range);  // a code >= Ks
    CHECK_THROWS_AS(Rii(std::vector<float>(4 * 300 * 4), 4, 300, 4), std::invalid_argument);
}

TEST_CASE("least_keys: the lists of least key, ties to the lower list, and false on a NaN") {
    // Keys from a few values, so ties are common; n past and below multiples of 8.
    for (std::size_t n : {1, 7, 8, 9, 64, 100, 1027}) {
        for (std::size_t count : {1, 3, 8, 16}) {
            if (count > n) continue;
            CAPTURE(n);
            CAPTURE(count);
            std::vector<float> keys(n);
            for (std::size_t l = 0; l < n; ++l) keys[l] = static_cast<float>((l * 7919 + n) % 13);
            std::vector<impl::Neighbor> best, expected;
            REQUIRE(impl::least_keys(keys.data(), n, count, best));
            impl::all_by_key(keys.data(), n, expected);
            expected.resize(count);
            REQUIRE(best.size() == count);
            for (std::size_t j = 0; j < count; ++j) {
                CHECK(best[j].key == expected[j].key);
                CHECK(best[j].id == expected[j].id);
            }
            // A NaN anywhere, in the first count keys or past them, is reported.
            for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
                std::vector<float> broken(keys);
                broken[at] = std::numeric_limits<float>::quiet_NaN();
                CHECK_FALSE(impl::least_keys(broken.data(), n, count, best));
            }
        }
    }
}
