// Tests for nanopq_cpp/packed_codes.hpp and impl/fast_scan.hpp: packing round
// trips and checks, the rounding bound, and packed search equal to the search
// of unpacked codes (ids and distances) on random and adversarial tables, at
// every supported SIMD level and any thread count. (test_kernels.cpp runs the
// fast-scan kernels of every level against the portable ones.)
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/runtime.hpp>
#include <nanopq_cpp/impl/fast_scan.hpp>
#include <nanopq_cpp/quantizer.hpp>
#include <nanopq_cpp/impl/random.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "test_helpers.hpp"

namespace np = nanopq_cpp;

namespace {

std::vector<std::uint8_t> random_codes(std::size_t n, std::size_t M, std::size_t Ks, std::uint64_t seed) {
    np::impl::Random random(seed);
    std::vector<std::uint8_t> codes(n * M);
    for (auto& code : codes) code = static_cast<std::uint8_t>(random.below(Ks));
    return codes;
}

std::vector<float> normal_tables(std::size_t n_queries, std::size_t M, std::size_t Ks, std::uint64_t seed) {
    np::impl::Random random(seed, 5);
    std::vector<float> tables(n_queries * M * Ks);
    for (float& value : tables) value = static_cast<float>(random.normal());
    return tables;
}

// Packed search must give exactly the unpacked search's ids and distances.
void check_search(const std::vector<float>& tables, std::size_t n_queries, std::size_t M, std::size_t Ks,
                  const std::vector<std::uint8_t>& codes, std::size_t k, np::Metric metric,
                  const np::impl::KernelTable* kernels = nullptr, int threads = 1) {
    const std::size_t n = codes.size() / M;
    const np::PackedCodes packed = np::PackedCodes::from_codes(codes.data(), n, M, Ks);
    std::vector<std::int64_t> expected_ids(n_queries * k), ids(n_queries * k);
    std::vector<float> expected(n_queries * k), distances(n_queries * k);
    np::impl::search(tables.data(), n_queries, M, Ks, codes.data(), n, k, metric, nullptr, 0, expected_ids.data(),
                     expected.data(), 1);
    np::impl::search_packed(tables.data(), n_queries, packed.view(), k, metric, nullptr, 0, ids.data(),
                            distances.data(), threads, kernels);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        INFO("M=", M, " Ks=", Ks, " n=", n, " k=", k, " slot ", i);
        CHECK(ids[i] == expected_ids[i]);
        // Bitwise equal (NaN only where the unpacked search has NaN too).
        CHECK((distances[i] == expected[i] || (std::isnan(distances[i]) && std::isnan(expected[i]))));
    }
}

std::vector<const np::impl::KernelTable*> every_level() {
    std::vector<const np::impl::KernelTable*> tables;
    for (np::SimdLevel level : np::supported_simd_levels()) tables.push_back(&np::impl::kernels_for(level));
    return tables;
}

}  // namespace

TEST_CASE("pack and unpack round trip, in n * ceil(M/2) or n * M bytes") {
    for (std::size_t Ks : {2u, 15u, 16u, 17u, 256u})
        for (std::size_t M : {1u, 3u, 8u, 65u})
            for (std::size_t n : {0u, 1u, 31u, 32u, 33u, 64u, 65u, 200u}) {
                INFO("Ks=", Ks, " M=", M, " n=", n);
                const std::vector<std::uint8_t> codes = random_codes(n, M, Ks, 7 + n + M);
                const np::PackedCodes packed = np::PackedCodes::from_codes(codes.data(), n, M, Ks);
                CHECK(packed.nbytes() == n * (Ks <= 16 ? (M + 1) / 2 : M));
                CHECK(packed.nbytes() <= codes.size());
                CHECK(packed.unpack() == codes);
                // Bytes back in: accepted as they are.
                const np::PackedCodes copy(packed.bytes(), n, M, Ks);
                CHECK(copy.unpack() == codes);
                // Single rows and ranges.
                std::vector<std::uint8_t> row(M);
                for (std::size_t i = 0; i < n; i += 7) {
                    np::impl::unpack_row(packed.view(), i, row.data());
                    CHECK(std::equal(row.begin(), row.end(), codes.begin() + i * M));
                }
            }
    const std::vector<std::uint16_t> wide = {1, 2, 3, 300};
    CHECK_THROWS_AS(np::PackedCodes::from_codes(wide.data(), 2, 2, 301), std::invalid_argument);  // Ks > 256
    const std::vector<std::uint16_t> in_range = {1, 2, 3, 14};
    CHECK(np::PackedCodes::from_codes(in_range.data(), 2, 2, 15).unpack() == std::vector<std::uint8_t>{1, 2, 3, 14});
    CHECK_THROWS_AS(np::PackedCodes::from_codes(in_range.data(), 2, 2, 14), std::out_of_range);
}

TEST_CASE("packed bytes from elsewhere are checked against the shape and Ks") {
    const std::vector<std::uint8_t> codes = random_codes(70, 5, 15, 3);
    const np::PackedCodes packed = np::PackedCodes::from_codes(codes.data(), 70, 5, 15);
    std::vector<std::uint8_t> bytes = packed.bytes();
    CHECK_THROWS_AS(np::PackedCodes(bytes, 71, 5, 15), std::invalid_argument);
    CHECK_THROWS_AS(np::PackedCodes(bytes, 70, 4, 15), std::invalid_argument);
    CHECK_THROWS_AS(np::PackedCodes(bytes, 70, 5, 300), std::invalid_argument);
    bytes[0] |= 0x0F;  // code 15 >= Ks = 15, in a full block
    CHECK_THROWS_AS(np::PackedCodes(bytes, 70, 5, 15), std::out_of_range);
    bytes = packed.bytes();
    bytes.back() = 0xFF;  // in the tail; the high nibble of an odd M's last byte is padding
    CHECK_THROWS_AS(np::PackedCodes(bytes, 70, 5, 15), std::out_of_range);
    // Padding is not a code: any value there is accepted and ignored.
    bytes = packed.bytes();
    bytes.back() = static_cast<std::uint8_t>((bytes.back() & 0x0F) | 0xF0);
    CHECK(np::PackedCodes(bytes, 70, 5, 15).unpack() == codes);
}

TEST_CASE("the quantized sum bounds every row's float distance from below") {
    for (np::Metric metric : {np::Metric::l2, np::Metric::dot})
        for (std::size_t M : {1u, 7u, 64u, 300u}) {
            const std::size_t Ks = 16, n = 2000;
            std::vector<float> table = normal_tables(1, M, Ks, M);
            // Large offsets and one far entry: the float sums round the most.
            for (std::size_t m = 0; m < M; ++m)
                for (std::size_t k = 0; k < Ks; ++k) table[m * Ks + k] = 1000.0f + table[m * Ks + k] * 0.01f;
            table[3] = 5e4f;
            const std::size_t lut_bytes = (M + 1) / 2 * 32;
            std::vector<std::uint8_t> lut(lut_bytes);
            const np::impl::QuantizedTable quantized =
                np::impl::quantize_table(np::impl::Layout4Bit{}, table.data(), M, Ks, metric, lut.data());
            REQUIRE(quantized.fast);
            const std::vector<std::uint8_t> codes = random_codes(n, M, Ks, 99);
            std::vector<float> distances(n);
            np::impl::adist(table.data(), 1, M, Ks, codes.data(), n, distances.data());
            for (std::size_t i = 0; i < n; ++i) {
                std::uint32_t level_sum = 0;
                for (std::size_t m = 0; m < M; ++m) level_sum += lut[(m / 2) * 32 + (m % 2) * 16 + codes[i * M + m]];
                const float key = np::impl::key_of(metric, distances[i]);
                // The row passes the bound of its own key, and of any larger one.
                CHECK(level_sum <= quantized.bound(key));
                CHECK(quantized.bound(key) <= quantized.bound(std::nextafter(key, 1e30f)));
            }
        }
}

TEST_CASE("packed search equals the unpacked search on random tables, for every level") {
    for (const np::impl::KernelTable* kernels : every_level()) {
        INFO("level ", np::simd_level_name(kernels->level));
        for (np::Metric metric : {np::Metric::l2, np::Metric::dot}) {
            for (std::size_t Ks : {2u, 15u, 16u, 17u, 256u}) {
                const std::size_t M = 8, n = 3001;  // n not a multiple of any block
                const std::vector<float> tables = normal_tables(5, M, Ks, Ks);
                const std::vector<std::uint8_t> codes = random_codes(n, M, Ks, Ks + 1);
                for (std::size_t k : {1u, 10u, 100u}) check_search(tables, 5, M, Ks, codes, k, metric, kernels);
            }
            // M = 1, M > 64 and an odd M; topk >= N.
            check_search(normal_tables(3, 1, 16, 1), 3, 1, 16, random_codes(100, 1, 16, 2), 10, metric, kernels);
            check_search(normal_tables(3, 65, 16, 2), 3, 65, 16, random_codes(500, 65, 16, 3), 10, metric, kernels);
            check_search(normal_tables(3, 67, 256, 3), 3, 67, 256, random_codes(300, 67, 256, 4), 10, metric, kernels);
            check_search(normal_tables(2, 3, 16, 4), 2, 3, 16, random_codes(40, 3, 16, 5), 50, metric, kernels);
            check_search(normal_tables(2, 4, 16, 4), 2, 4, 16, random_codes(0, 4, 16, 5), 3, metric, kernels);
        }
    }
}

TEST_CASE("packed search equals the unpacked search on adversarial tables") {
    const std::size_t M = 16, Ks = 16, n = 5000;
    const std::vector<std::uint8_t> codes = random_codes(n, M, Ks, 8);
    for (const np::impl::KernelTable* kernels : every_level()) {
        INFO("level ", np::simd_level_name(kernels->level));
        for (np::Metric metric : {np::Metric::l2, np::Metric::dot}) {
            // Many equal entries: whole rows tie, broken by id.
            std::vector<float> tables(2 * M * Ks, 0.5f);
            for (std::size_t i = 0; i < M * Ks; i += 3) tables[i] = 0.25f;
            check_search(tables, 2, M, Ks, codes, 10, metric, kernels);
            // All equal: every row ties.
            std::fill(tables.begin(), tables.end(), 1.0f);
            check_search(tables, 2, M, Ks, codes, 10, metric, kernels);
            // One huge entry flattens every other subspace to a level or two.
            tables = normal_tables(2, M, Ks, 21);
            tables[5] = 1e30f;
            tables[M * Ks + 7] = -1e30f;
            check_search(tables, 2, M, Ks, codes, 10, metric, kernels);
            // Negative products around a large offset (dot), tiny differences.
            tables = normal_tables(2, M, Ks, 22);
            for (float& value : tables) value = -3000.0f + value * 1e-3f;
            check_search(tables, 2, M, Ks, codes, 10, metric, kernels);
            // Infinities (masked codewords) and NaN: the exact scan.
            tables = normal_tables(3, M, Ks, 23);
            tables[4] = std::numeric_limits<float>::infinity();
            tables[M * Ks + 9] = -std::numeric_limits<float>::infinity();
            tables[2 * M * Ks + 1] = std::numeric_limits<float>::quiet_NaN();
            check_search(tables, 3, M, Ks, codes, 10, metric, kernels);
            // Sums that would overflow float: the exact scan too.
            tables = normal_tables(1, M, Ks, 24);
            for (float& value : tables) value *= 1e37f;
            check_search(tables, 1, M, Ks, codes, 10, metric, kernels);
        }
    }
}

TEST_CASE("packed search: thread counts, subsets and distances") {
    const std::size_t M = 12, Ks = 16, n = 40000, k = 20;
    const std::vector<float> tables = normal_tables(9, M, Ks, 31);
    const std::vector<std::uint8_t> codes = random_codes(n, M, Ks, 32);
    for (int threads : {1, 2, 3}) check_search(tables, 9, M, Ks, codes, k, np::Metric::l2, nullptr, threads);

    const np::PackedCodes packed = np::PackedCodes::from_codes(codes.data(), n, M, Ks);
    const std::vector<std::int64_t> subset = {39999, 5, 5, 17, 30000, 2};
    std::vector<std::int64_t> expected_ids(9 * k), ids(9 * k);
    std::vector<float> expected(9 * k), distances(9 * k);
    np::impl::search(tables.data(), 9, M, Ks, codes.data(), n, k, np::Metric::dot, subset.data(), subset.size(),
                     expected_ids.data(), expected.data());
    np::impl::search_packed(tables.data(), 9, packed.view(), k, np::Metric::dot, subset.data(), subset.size(),
                            ids.data(), distances.data());
    CHECK(ids == expected_ids);
    CHECK(distances == expected);
    const std::vector<std::int64_t> outside = {3, 40000};
    CHECK_THROWS_AS(np::impl::search_packed(tables.data(), 9, packed.view(), k, np::Metric::l2, outside.data(), 2,
                                            ids.data(), distances.data()),
                    std::out_of_range);

    std::vector<float> expected_all(9 * n), all(9 * n);
    np::impl::adist(tables.data(), 9, M, Ks, codes.data(), n, expected_all.data());
    np::impl::adist_packed(tables.data(), 9, packed.view(), all.data());
    CHECK(all == expected_all);
}

TEST_CASE("ProductQuantizer::pack and DistanceTables::search on packed codes") {
    const std::vector<float> train = test::clustered_vectors(600, 16, 8, 5);
    for (std::size_t Ks : {16u, 256u}) {
        np::ProductQuantizer pq(8, Ks, np::Metric::dot);
        pq.fit(train.data(), 600, 16);
        const np::Codes codes = pq.encode(train.data(), 600);
        const np::PackedCodes packed = pq.pack(codes);
        CHECK(packed.rows() == 600);
        CHECK(packed.unpack() ==
              std::vector<std::uint8_t>(codes.data<std::uint8_t>(), codes.data<std::uint8_t>() + codes.size()));
        const np::SearchResult expected = pq.search(train.data(), 7, codes, 10);
        const np::SearchResult found = pq.search(train.data(), 7, packed, 10);
        CHECK(found.ids == expected.ids);
        CHECK(found.distances == expected.distances);
        const np::DistanceTables tables = pq.dtable(train.data(), 2);
        CHECK(tables.adist(packed) == tables.adist(codes));
        CHECK(np::pack(codes, Ks).bytes() == packed.bytes());
    }
    np::ProductQuantizer other(4, 16);
    np::ProductQuantizer wide(8, 300);
    const np::Codes codes(10, 8, 1);
    CHECK_THROWS_AS(other.pack(codes), std::invalid_argument);
    CHECK_THROWS_AS(wide.pack(codes), std::invalid_argument);
}
