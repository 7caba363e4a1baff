// Every entry of the kernel table (impl/simd/dispatch.hpp), at every SIMD level this
// CPU supports, against the portable entry of the scalar row: exactly where the
// kernel promises the portable bits (tables, distances, top-k filters), and to
// rounding where a level fuses multiply-adds (nearest codeword, k-means,
// cross-correlation).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/runtime.hpp>
#include <nanopq_cpp/impl/distance.hpp>
#include <nanopq_cpp/impl/inverted_lists.hpp>
#include <nanopq_cpp/impl/random.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "test_helpers.hpp"

namespace np = nanopq_cpp;

namespace {

const np::impl::KernelTable& portable() { return np::impl::kernels_for(np::SimdLevel::scalar); }

#if defined(NANOPQ_CPP_X86)
// On AMD the avx512 row keeps AVX2's nearest-codeword and 4-bit scan kernels
// (dispatch.hpp); this row runs the AVX-512 bodies anyway, so they are tested
// on every CPU with AVX-512, whoever made it.
const np::impl::KernelTable& avx512_bodies() {
    static const np::impl::KernelTable table = [] {
        np::impl::KernelTable bodies = np::impl::avx512_kernels();
        bodies.nearest_codeword = &np::impl::nearest_codeword_with<np::impl::avx512::Nearest>;
        bodies.nearest_codeword_by_norms = &np::impl::nearest_codeword_by_norms_with<np::impl::avx512::Nearest>;
        bodies.scan_4bit = &np::impl::scan_with<np::impl::avx512::Scan4Bit, np::impl::avx512::kScan4BitQueries>;
        return bodies;
    }();
    return table;
}
#endif

std::vector<const np::impl::KernelTable*> other_rows() {
    std::vector<const np::impl::KernelTable*> rows;
    for (np::SimdLevel level : np::supported_simd_levels())
        if (level != np::SimdLevel::scalar) rows.push_back(&np::impl::kernels_for(level));
#if defined(NANOPQ_CPP_X86)
    if (np::simd_level_supported(np::SimdLevel::avx512)) rows.push_back(&avx512_bodies());
#endif
    return rows;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool close(float a, float b, float relative) {
    return std::fabs(a - b) <= relative * std::fmax(1.0f, std::fmax(std::fabs(a), std::fabs(b)));
}

// One threshold a query for sums that reach `largest`, in turn: from no row
// to all rows, and the median (query 2), so that masks have bits on both sides.
std::vector<std::uint16_t> scan_thresholds(std::size_t largest, std::size_t n_queries) {
    auto share = [&](std::size_t numerator, std::size_t denominator) {
        return static_cast<std::uint16_t>(largest * numerator / denominator);
    };
    const std::uint16_t kinds[] = {0, 65535, share(1, 2), share(1, 3), share(2, 3), 1, share(1, 1)};
    std::vector<std::uint16_t> thresholds(n_queries);
    for (std::size_t q = 0; q < n_queries; ++q) thresholds[q] = kinds[q % 7];
    return thresholds;
}

// Masks of kScanBlocks random blocks (block_bytes each) and n_queries random
// LUTs (lut_bytes each, entries <= max_entry), from `kernel` and from the
// portable `reference`: (expected, got). Thresholds span sums up to largest_sum.
// 9 blocks: kernels that take blocks by fours (avx512 Scan8Bit) run two
// groups and a single one.
constexpr std::size_t kScanBlocks = 9;
template <class Mask>
std::pair<std::vector<Mask>, std::vector<Mask>> scan_both(np::impl::ScanKernel<Mask> kernel,
                                                          np::impl::ScanKernel<Mask> reference, std::size_t M,
                                                          std::size_t block_bytes, std::size_t lut_bytes,
                                                          std::size_t n_queries, std::size_t max_entry,
                                                          std::size_t largest_sum, np::impl::Random& random) {
    std::vector<std::uint8_t> blocks(kScanBlocks * block_bytes), luts(n_queries * lut_bytes);
    for (auto& byte : blocks) byte = static_cast<std::uint8_t>(random.below(256));
    for (auto& entry : luts) entry = static_cast<std::uint8_t>(random.below(max_entry + 1));
    const std::vector<std::uint16_t> thresholds = scan_thresholds(largest_sum, n_queries);
    // The kernel's masks start as garbage: every one must be written.
    std::vector<Mask> expected(kScanBlocks * n_queries), got(kScanBlocks * n_queries, Mask{0xDEADBEEF});
    reference(blocks.data(), kScanBlocks, M, luts.data(), n_queries, thresholds.data(), expected.data());
    kernel(blocks.data(), kScanBlocks, M, luts.data(), n_queries, thresholds.data(), got.data());
    return {expected, got};
}

const std::size_t kDims[] = {1, 2, 3, 4, 7, 8, 9, 12, 16, 17, 24, 64, 128, 129, 200};

// Every row, the portable one last.
std::vector<const np::impl::KernelTable*> every_row() {
    std::vector<const np::impl::KernelTable*> all = other_rows();
    all.push_back(&portable());
    return all;
}

// Ks codewords ([Ks][dim]) as columns ([dim][Ks]).
std::vector<float> as_columns(const std::vector<float>& codewords, std::size_t Ks, std::size_t dim) {
    std::vector<float> columns(Ks * dim);
    for (std::size_t k = 0; k < Ks; ++k)
        for (std::size_t d = 0; d < dim; ++d) columns[d * Ks + k] = codewords[k * dim + d];
    return columns;
}

}  // namespace

TEST_CASE("every supported level has a complete row") {
    const std::vector<np::SimdLevel> levels = np::supported_simd_levels();
    REQUIRE(levels.front() == np::SimdLevel::scalar);
    for (np::SimdLevel level : levels) {
        const np::impl::KernelTable& row = np::impl::kernels_for(level);
        CHECK(row.level == level);
        CHECK(bool(row.nearest_codeword));
        CHECK(bool(row.nearest_codeword_by_norms));
        CHECK(bool(row.l2_table));
        CHECK(bool(row.dot_table));
        CHECK(bool(row.adist_u8));
        CHECK(bool(row.adist_u16));
        CHECK(bool(row.adist_u32));
        CHECK(bool(row.first_at_most));
        CHECK(bool(row.first_at_least));
        CHECK(bool(row.cross_accumulate));
        CHECK(bool(row.l2_table_columns));
        CHECK(bool(row.l2_levels_columns));
        CHECK(bool(row.column_keys));
        CHECK(bool(row.key_range));
        CHECK(bool(row.key_levels));
        CHECK(bool(row.scan_4bit));
        CHECK(bool(row.scan_8bit));
    }
    MESSAGE("levels checked against scalar here: " << levels.size() - 1);
}

TEST_CASE("l2_table and dot_table: the portable bits at every level") {
    for (const np::impl::KernelTable* row : other_rows())
        for (std::size_t dim : kDims) {
            CAPTURE(np::simd_level_name(row->level));
            CAPTURE(dim);
            const std::size_t Ks = 37;
            const std::vector<float> codewords = test::uniform_vectors(Ks, dim, dim);
            const std::vector<float> query = test::uniform_vectors(1, dim, dim + 100);
            std::vector<float> expected(Ks), got(Ks, -1.0f);
            portable().l2_table(query.data(), codewords.data(), Ks, dim, expected.data());
            row->l2_table(query.data(), codewords.data(), Ks, dim, got.data());
            CHECK(same_bits(got, expected));
            portable().dot_table(query.data(), codewords.data(), Ks, dim, expected.data());
            row->dot_table(query.data(), codewords.data(), Ks, dim, got.data());
            CHECK(same_bits(got, expected));
        }
}

TEST_CASE("l2_table_columns: l2_table's bits from codewords as columns, Ds < 8; l2_levels_columns: their levels") {
    for (const np::impl::KernelTable* row : every_row())
        for (std::size_t dim = 1; dim < 8; ++dim)
            for (std::size_t Ks : {1, 7, 8, 37, 256}) {
                CAPTURE(np::simd_level_name(row->level));
                CAPTURE(dim);
                CAPTURE(Ks);
                const std::vector<float> codewords = test::uniform_vectors(Ks, dim, dim + Ks);
                const std::vector<float> query = test::uniform_vectors(1, dim, dim + 200);
                const std::vector<float> columns = as_columns(codewords, Ks, dim);
                std::vector<float> expected(Ks), got(Ks, -1.0f);
                portable().l2_table(query.data(), codewords.data(), Ks, dim, expected.data());
                row->l2_table_columns(query.data(), columns.data(), Ks, dim, got.data());
                CHECK(same_bits(got, expected));

                // Levels straight from the codewords: the portable bytes at
                // every level, and never above entry / step (direct_levels'
                // premise), each entry within kSumsMargin of its sum.
                for (double step : {1e-3, 0.05, 0.7}) {
                    CAPTURE(step);
                    const float scale =
                        static_cast<float>(1.0 / step * (1.0 - 2.0 * np::impl::kSumsMargin)) * (1.0f - 0x1.0p-20f);
                    std::vector<std::uint8_t> levels(Ks), expected_levels(Ks);
                    portable().l2_levels_columns(query.data(), columns.data(), Ks, dim, scale, 200,
                                                 expected_levels.data());
                    row->l2_levels_columns(query.data(), columns.data(), Ks, dim, scale, 200, levels.data());
                    CHECK(levels == expected_levels);
                    for (std::size_t k = 0; k < Ks; ++k) CHECK(levels[k] * step <= got[k]);
                }
                for (std::size_t k = 0; k < Ks; ++k) {
                    float sum = 0.0f;
                    for (std::size_t d = 0; d < dim; ++d) {
                        const float diff = query[d] - codewords[k * dim + d];
                        sum += diff * diff;
                    }
                    CHECK(std::fabs(got[k] - sum) <= sum * np::impl::kSumsMargin);
                }
            }
}

TEST_CASE("key_levels saturates a level past int's range at top, at every level") {
    // 40 values: two 16-wide steps and a scalar tail. 1e30 * 10 is past any int.
    std::vector<float> values(40);
    for (std::size_t k = 0; k < values.size(); ++k) values[k] = k % 3 == 0 ? 1e30f : static_cast<float>(k);
    std::vector<const np::impl::KernelTable*> rows = other_rows();
    rows.push_back(&portable());
    for (const np::impl::KernelTable* row : rows) {
        CAPTURE(np::simd_level_name(row->level));
        std::vector<std::uint8_t> levels(values.size());
        row->key_levels(values.data(), values.size(), 1.0f, 0.0f, 10.0f, 255, levels.data());
        for (std::size_t k = 0; k < values.size(); ++k) {
            CAPTURE(k);
            CHECK(levels[k] == (k % 3 == 0 ? 255 : (std::min)(255, static_cast<int>(k) * 10)));
        }
    }
}

TEST_CASE("column_keys, key_range and key_levels: the portable results at every level") {
    for (const np::impl::KernelTable* row : other_rows())
        for (std::size_t n : {1, 5, 31, 32, 33, 100, 256}) {
            CAPTURE(np::simd_level_name(row->level));
            CAPTURE(n);
            const std::size_t dim = 13;
            const std::vector<float> centers = test::uniform_vectors(n, dim, n);
            const std::vector<float> query = test::uniform_vectors(1, dim, n + 1);
            const np::impl::CoarseCenters coarse(centers.data(), n, dim);
            std::vector<float> expected(n), got(n, -1.0f);
            for (const float* starts : {static_cast<const float*>(nullptr), coarse.half_norms.data()}) {
                portable().column_keys(query.data(), coarse.blocks.data(), starts, n, dim, expected.data());
                row->column_keys(query.data(), coarse.blocks.data(), starts, n, dim, got.data());
                CHECK(same_bits(got, expected));
            }
            for (float sign : {1.0f, -1.0f}) {
                float low = 0, high = 0, expected_low = 0, expected_high = 0;
                CHECK(row->key_range(centers.data(), n, sign, &low, &high));
                CHECK(portable().key_range(centers.data(), n, sign, &expected_low, &expected_high));
                CHECK(low == expected_low);
                CHECK(high == expected_high);
                std::vector<std::uint8_t> levels(n), expected_levels(n);
                row->key_levels(centers.data(), n, sign, low, 100.0f, 200, levels.data());
                portable().key_levels(centers.data(), n, sign, low, 100.0f, 200, expected_levels.data());
                CHECK(levels == expected_levels);
            }
            std::vector<float> broken(centers.begin(), centers.end());
            broken[n / 2] = std::numeric_limits<float>::quiet_NaN();
            float low = 0, high = 0;
            CHECK_FALSE(row->key_range(broken.data(), n, 1.0f, &low, &high));
            broken[n / 2] = -std::numeric_limits<float>::infinity();
            CHECK_FALSE(row->key_range(broken.data(), n, 1.0f, &low, &high));
        }
}

TEST_CASE("adist: the portable bits at every level, for each code width") {
    for (const np::impl::KernelTable* row : other_rows())
        for (std::size_t M : {1, 3, 8, 13, 16, 64, 130}) {
            CAPTURE(np::simd_level_name(row->level));
            CAPTURE(M);
            const std::size_t Ks = 300, n = 77;
            const std::vector<float> table = test::uniform_vectors(M, Ks, M);
            std::vector<std::uint8_t> narrow(n * M);
            std::vector<std::uint16_t> middle(n * M);
            std::vector<std::uint32_t> wide(n * M);
            np::impl::Random random(M, 3);
            for (std::size_t i = 0; i < n * M; ++i) {
                wide[i] = middle[i] = static_cast<std::uint16_t>(random.below(Ks));
                narrow[i] = static_cast<std::uint8_t>(middle[i] % 256);
            }
            std::vector<float> expected(n), got(n);
            portable().adist_u8(table.data(), M, Ks, narrow.data(), n, expected.data());
            row->adist_u8(table.data(), M, Ks, narrow.data(), n, got.data());
            CHECK(same_bits(got, expected));
            portable().adist_u16(table.data(), M, Ks, middle.data(), n, expected.data());
            row->adist_u16(table.data(), M, Ks, middle.data(), n, got.data());
            CHECK(same_bits(got, expected));
            portable().adist_u32(table.data(), M, Ks, wide.data(), n, expected.data());
            row->adist_u32(table.data(), M, Ks, wide.data(), n, got.data());
            CHECK(same_bits(got, expected));
        }
}

TEST_CASE("first_at_most and first_at_least: the portable index at every level, NaN never qualifying") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (const np::impl::KernelTable* row : other_rows())
        for (std::size_t count : {0, 1, 15, 16, 31, 32, 33, 100, 1000}) {
            CAPTURE(np::simd_level_name(row->level));
            CAPTURE(count);
            std::vector<float> values = test::uniform_vectors(count, 1, count + 7);
            for (std::size_t i = 0; i < count; i += 5) values[i] = nan;
            // Bounds below, inside and above the values' range; every hit position.
            for (float bound : {-2.0f, -0.999f, -0.5f, 0.0f, 0.5f, 0.999f, 2.0f}) {
                CHECK(row->first_at_most(values.data(), count, bound) ==
                      portable().first_at_most(values.data(), count, bound));
                CHECK(row->first_at_least(values.data(), count, bound) ==
                      portable().first_at_least(values.data(), count, bound));
            }
            for (std::size_t hit = 0; hit < count; hit += 7) {
                std::vector<float> distant(count, 5.0f);
                distant[hit] = -5.0f;
                CHECK(row->first_at_most(distant.data(), count, 0.0f) == hit);
                CHECK(row->first_at_least(distant.data(), count, 5.0f) == (hit == 0 ? 1u : 0u));
                CHECK(row->first_at_least(distant.data(), count, 6.0f) == count);
            }
        }
}

TEST_CASE("nearest_codeword and nearest_codeword_by_norms: the portable labels but for ties, distances to rounding") {
    for (const np::impl::KernelTable* row : other_rows())
        for (std::size_t dim : {1, 2, 3, 4, 8, 9, 16, 24}) {
            for (std::size_t Ks : {5, 16, 17, 256}) {
                CAPTURE(np::simd_level_name(row->level));
                CAPTURE(dim);
                CAPTURE(Ks);
                const std::size_t n = 203, stride = dim + 3;
                const std::vector<float> points = test::uniform_vectors(n, stride, dim * Ks);
                const std::vector<float> codewords = test::uniform_vectors(Ks, dim, dim * Ks + 1);
                const std::vector<float> transposed = np::impl::transpose_codewords(codewords.data(), Ks, dim);
                std::vector<float> norms(Ks);
                for (std::size_t k = 0; k < Ks; ++k)
                    norms[k] = np::impl::reference::squared_norm(&codewords[k * dim], dim);
                std::vector<std::uint32_t> expected_labels(n), labels(n);
                std::vector<float> expected_distances(n), distances(n);
                std::size_t label_mismatches = 0, distance_mismatches = 0;
                for (bool by_norms : {false, true}) {
                    if (by_norms) {
                        portable().nearest_codeword_by_norms(points.data(), n, stride, transposed.data(), norms.data(),
                                                             Ks, dim, expected_labels.data(),
                                                             expected_distances.data());
                        row->nearest_codeword_by_norms(points.data(), n, stride, transposed.data(), norms.data(), Ks,
                                                       dim, labels.data(), distances.data());
                    } else {
                        portable().nearest_codeword(points.data(), n, stride, transposed.data(), Ks, dim,
                                                    expected_labels.data(), expected_distances.data());
                        row->nearest_codeword(points.data(), n, stride, transposed.data(), Ks, dim, labels.data(),
                                              distances.data());
                    }
                    // A level that fuses multiply-adds may pick the other codeword
                    // of a tie within rounding: then the distances agree.
                    for (std::size_t i = 0; i < n; ++i) {
                        const bool same_distance = close(distances[i], expected_distances[i], 1e-5f);
                        label_mismatches += labels[i] != expected_labels[i] && !same_distance;
                        distance_mismatches += !same_distance;
                    }
                }
                CHECK(label_mismatches == 0);
                CHECK(distance_mismatches == 0);
            }
        }
}

TEST_CASE("cross_accumulate: the portable sums to rounding") {
    for (const np::impl::KernelTable* row : other_rows())
        for (std::size_t dim : {1, 5, 8, 13, 32}) {
            CAPTURE(np::simd_level_name(row->level));
            CAPTURE(dim);
            const std::size_t rows = 23;
            const std::vector<float> x = test::uniform_vectors(rows, dim, dim);
            const std::vector<float> y = test::uniform_vectors(rows, dim, dim + 1);
            std::vector<float> expected(dim * dim, 0.5f), got(dim * dim, 0.5f);
            portable().cross_accumulate(x.data(), y.data(), rows, dim, expected.data());
            row->cross_accumulate(x.data(), y.data(), rows, dim, got.data());
            std::size_t mismatches = 0;
            for (std::size_t i = 0; i < got.size(); ++i) mismatches += !close(got[i], expected[i], 1e-5f);
            CHECK(mismatches == 0);
        }
}

TEST_CASE("scan_4bit and scan_8bit: the portable masks at every level") {
    np::impl::Random random(11);
    for (const np::impl::KernelTable* kernels : other_rows()) {
        for (std::size_t M : {1u, 2u, 3u, 16u, 33u, 64u}) {
            INFO("level ", np::simd_level_name(kernels->level), " M=", M);
            // Every group size and tail of the drivers' query groups.
            for (std::size_t n_queries : {1u, 2u, 3u, 4u, 5u, 7u, 9u}) {
                INFO("queries ", n_queries);
                std::size_t max_entry = std::min<std::size_t>(np::impl::kMaxLevel4Bit, 65535 / M);
                if (kernels->scan_4bit) {
                    // An odd M's padding half is looked up too (its random LUT entries
                    // count: this tests the kernels, not the layout).
                    const std::size_t lut_bytes = np::impl::ScanShape4Bit::lut_bytes(M);
                    const auto [expected, masks] =
                        scan_both(kernels->scan_4bit, &np::impl::reference::scan_4bit, M, lut_bytes, lut_bytes,
                                  n_queries, max_entry, lut_bytes / 16 * max_entry, random);
                    CHECK(masks == expected);
                    if (n_queries >= 3) {  // both halves of the range occur
                        CHECK(expected[2] != 0);
                        CHECK(expected[2] != 0xFFFFFFFFu);
                    }
                }
                max_entry = std::min<std::size_t>(255, 65535 / M);
                if (kernels->scan_8bit) {
                    const auto [expected, masks] =
                        scan_both(kernels->scan_8bit, &np::impl::reference::scan_8bit, M, M * 64, M * 256, n_queries,
                                  max_entry, M * max_entry, random);
                    CHECK(masks == expected);
                }
            }
        }
    }
}

TEST_CASE("scan_8bit: a group of blocks stops early only when no row can pass") {
    // M = 16: the AVX-512 kernel checks its partial sums after 8 and 12
    // subspaces. Every row's levels lie in the first 8 (40 each), so its
    // sum is 320 at the first check and at the end; two rows (an odd one in
    // the fourth block of the first group of four, an even one in the lone
    // ninth block) read code 1, whose levels are 0.
    const std::size_t M = 16, block_bytes = M * 64;
    std::vector<std::uint8_t> blocks(kScanBlocks * block_bytes, 0), lut(M * 256, 0);
    for (std::size_t m = 0; m < M; ++m) {
        blocks[3 * block_bytes + m * 64 + 37] = 1;
        blocks[8 * block_bytes + m * 64 + 6] = 1;
        if (m < 8) lut[m * 256] = 40;
    }
    for (const np::impl::KernelTable* kernels : other_rows()) {
        INFO("level ", np::simd_level_name(kernels->level));
        // Below every other row's sum at the first check, at it, and below the two rows'.
        for (std::uint16_t threshold : {std::uint16_t{319}, std::uint16_t{320}, std::uint16_t{100}}) {
            INFO("threshold ", threshold);
            std::vector<std::uint64_t> expected(kScanBlocks), got(kScanBlocks, 0xDEADBEEF);
            np::impl::reference::scan_8bit(blocks.data(), kScanBlocks, M, lut.data(), 1, &threshold, expected.data());
            kernels->scan_8bit(blocks.data(), kScanBlocks, M, lut.data(), 1, &threshold, got.data());
            CHECK(got == expected);
            CHECK(expected[3] == (threshold >= 320 ? ~std::uint64_t{0} : std::uint64_t{1} << 37));
            CHECK(expected[8] == (threshold >= 320 ? ~std::uint64_t{0} : std::uint64_t{1} << 6));
            CHECK(expected[0] == (threshold >= 320 ? ~std::uint64_t{0} : 0));
        }
    }
}
