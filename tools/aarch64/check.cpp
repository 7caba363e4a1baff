// Standalone check of the NEON kernels against the scalar reference, for
// aarch64 under qemu. Prints one line per failure and a summary; exits 1 on
// any failure.
#include <nanopq_cpp/nanopq_cpp.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <vector>

namespace np = nanopq_cpp;

static long g_checks = 0, g_failures = 0;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        ++g_checks;                                        \
        if (!(cond)) {                                     \
            ++g_failures;                                  \
            std::printf("FAIL %s:%d: %s  ", __FILE__, __LINE__, #cond); \
            std::printf(__VA_ARGS__);                      \
            std::printf("\n");                             \
        }                                                  \
    } while (0)

static std::vector<float> normal_floats(std::size_t count, std::mt19937_64& engine) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(count);
    for (float& value : values) value = normal(engine);
    return values;
}

static bool close_rel(float a, float b, float rel) {
    if (a == b) return true;
    return std::fabs(a - b) <= rel * std::fmax(1.0f, std::fmax(std::fabs(a), std::fabs(b)));
}

// One shape: neon vs reference on nearest_codeword (with and without
// distances, contiguous and strided points) and the by_norms entry.
static void check_shape(std::size_t n_codewords, std::size_t dim, std::size_t n_points, std::size_t extra_stride,
                        std::mt19937_64& engine) {
    const std::size_t stride = dim + extra_stride;
    const std::vector<float> points = normal_floats(n_points * stride, engine);
    const std::vector<float> codewords = normal_floats(n_codewords * dim, engine);
    const std::vector<float> codewords_t = np::transpose_codewords(codewords.data(), n_codewords, dim);

    std::vector<std::uint32_t> ref_labels(n_points), neon_labels(n_points, 0xFFFFFFFFu), nodist_labels(n_points);
    std::vector<float> ref_dist(n_points), neon_dist(n_points, -1.0f);
    np::reference::nearest_codeword(points.data(), n_points, stride, codewords_t.data(), n_codewords, dim,
                                    ref_labels.data(), ref_dist.data());
    np::neon::nearest_codeword(points.data(), n_points, stride, codewords_t.data(), n_codewords, dim,
                               neon_labels.data(), neon_dist.data());
    np::neon::nearest_codeword(points.data(), n_points, stride, codewords_t.data(), n_codewords, dim,
                               nodist_labels.data(), nullptr);
    for (std::size_t i = 0; i < n_points; ++i) {
        CHECK(neon_labels[i] == ref_labels[i], "Ks=%zu Ds=%zu n=%zu stride=%zu i=%zu neon=%u ref=%u", n_codewords, dim,
              n_points, stride, i, neon_labels[i], ref_labels[i]);
        CHECK(nodist_labels[i] == ref_labels[i], "null distances: Ks=%zu Ds=%zu i=%zu", n_codewords, dim, i);
        CHECK(close_rel(neon_dist[i], ref_dist[i], 1e-5f), "Ks=%zu Ds=%zu i=%zu neon=%.9g ref=%.9g", n_codewords,
              dim, i, neon_dist[i], ref_dist[i]);
        // Independent check: recompute the distance to the chosen codeword in double.
        double exact = 0.0;
        for (std::size_t d = 0; d < dim; ++d) {
            const double diff = static_cast<double>(points[i * stride + d]) - codewords[neon_labels[i] * dim + d];
            exact += diff * diff;
        }
        CHECK(close_rel(neon_dist[i], static_cast<float>(exact), 1e-5f), "distance vs double: %.9g vs %.9g",
              neon_dist[i], exact);
    }

    // The dispatched tables.
    std::vector<float> norms(n_codewords);
    for (std::size_t k = 0; k < n_codewords; ++k) norms[k] = np::reference::squared_norm(&codewords[k * dim], dim);
    const np::KernelTable& neon_table = np::kernels_for(np::SimdLevel::neon);
    CHECK(neon_table.level == np::SimdLevel::neon, "kernels_for(neon).level");
    std::vector<std::uint32_t> table_labels(n_points), norms_labels(n_points), norms_ref_labels(n_points);
    std::vector<float> norms_dist(n_points), norms_ref_dist(n_points);
    neon_table.nearest_codeword(points.data(), n_points, stride, codewords_t.data(), n_codewords, dim,
                                table_labels.data(), nullptr);
    neon_table.nearest_codeword_by_norms(points.data(), n_points, stride, codewords_t.data(), norms.data(),
                                         n_codewords, dim, norms_labels.data(), norms_dist.data());
    np::reference::nearest_codeword_by_norms(points.data(), n_points, stride, codewords_t.data(), norms.data(),
                                             n_codewords, dim, norms_ref_labels.data(), norms_ref_dist.data());
    for (std::size_t i = 0; i < n_points; ++i) {
        CHECK(table_labels[i] == ref_labels[i], "table nearest_codeword Ks=%zu Ds=%zu i=%zu", n_codewords, dim, i);
        CHECK(norms_labels[i] == norms_ref_labels[i], "by_norms vs reference Ks=%zu Ds=%zu i=%zu", n_codewords, dim, i);
        CHECK(close_rel(norms_dist[i], norms_ref_dist[i], 0.0f), "by_norms distance %.9g vs reference %.9g",
              norms_dist[i], norms_ref_dist[i]);
        // ||c||^2 - 2 x.c cancels, so near ties may flip (documented, k-means
        // only): the chosen codeword must be as near as the best up to that
        // cancellation error, ~eps * (||x||^2 + ||c||^2).
        double chosen = 0.0, scale = 0.0;
        for (std::size_t d = 0; d < dim; ++d) {
            const double x = points[i * stride + d], c = codewords[norms_labels[i] * dim + d];
            chosen += (x - c) * (x - c);
            scale += x * x + c * c;
        }
        CHECK(chosen <= ref_dist[i] + 1e-5 * (1.0 + scale), "by_norms Ks=%zu Ds=%zu i=%zu: %u at %.9g, best %u at %.9g",
              n_codewords, dim, i, norms_labels[i], chosen, ref_labels[i], ref_dist[i]);
    }
}

// Exact ties: codeword `copy_to` duplicates `copy_from` (< copy_to); the
// point sits on it, so both are at distance 0 and the lower index must win,
// whether the pair straddles lanes, 16-blocks or the scalar tail.
static void check_ties(std::mt19937_64& engine) {
    const std::size_t shapes[][3] = {{17, 0, 16}, {37, 3, 35}, {37, 5, 33}, {64, 1, 63}, {300, 7, 299},
                                     {256, 0, 4}, {33, 16, 32}, {48, 2, 40}, {5, 0, 4},   {300, 290, 295}};
    for (const auto& shape : shapes) {
        const std::size_t n_codewords = shape[0], copy_from = shape[1], copy_to = shape[2];
        for (std::size_t dim : {1, 3, 8}) {
            std::vector<float> codewords = normal_floats(n_codewords * dim, engine);
            for (std::size_t d = 0; d < dim; ++d) codewords[copy_to * dim + d] = codewords[copy_from * dim + d];
            // A point very near the duplicated codeword (so nearer to it than to
            // any other), at a non-zero distance shared exactly by the pair.
            std::vector<float> point(codewords.begin() + copy_from * dim, codewords.begin() + (copy_from + 1) * dim);
            for (float& value : point) value += 1e-6f;
            const std::vector<float> codewords_t = np::transpose_codewords(codewords.data(), n_codewords, dim);
            std::uint32_t ref_label = 0, neon_label = 0;
            float ref_distance = 0, neon_distance = 0;
            np::reference::nearest_codeword(point.data(), 1, dim, codewords_t.data(), n_codewords, dim, &ref_label,
                                            &ref_distance);
            np::neon::nearest_codeword(point.data(), 1, dim, codewords_t.data(), n_codewords, dim, &neon_label,
                                       &neon_distance);
            CHECK(ref_label == copy_from, "reference tie Ks=%zu from=%zu to=%zu Ds=%zu got %u", n_codewords, copy_from,
                  copy_to, dim, ref_label);
            CHECK(neon_label == copy_from, "neon tie Ks=%zu from=%zu to=%zu Ds=%zu got %u", n_codewords, copy_from,
                  copy_to, dim, neon_label);
        }
    }
}

// A NaN point: the reference documents codeword 0 with an infinite distance.
static void check_nan(std::mt19937_64& engine) {
    for (std::size_t n_codewords : {5, 16, 37}) {
        const std::size_t dim = 4;
        const std::vector<float> codewords = normal_floats(n_codewords * dim, engine);
        const std::vector<float> codewords_t = np::transpose_codewords(codewords.data(), n_codewords, dim);
        const float point[4] = {0.5f, std::numeric_limits<float>::quiet_NaN(), 0.0f, 1.0f};
        std::uint32_t ref_label = 99, neon_label = 99;
        float ref_distance = 0, neon_distance = 0;
        np::reference::nearest_codeword(point, 1, dim, codewords_t.data(), n_codewords, dim, &ref_label, &ref_distance);
        np::neon::nearest_codeword(point, 1, dim, codewords_t.data(), n_codewords, dim, &neon_label, &neon_distance);
        CHECK(neon_label == ref_label && neon_label == 0, "NaN label Ks=%zu neon=%u ref=%u", n_codewords, neon_label,
              ref_label);
        CHECK(std::isinf(neon_distance) && std::isinf(ref_distance), "NaN distance Ks=%zu neon=%g ref=%g", n_codewords,
              neon_distance, ref_distance);
    }
}

// Degenerate inputs the kernels may see: dim 0 (every codeword at distance 0,
// so codeword 0), Ks 0 (label 0, infinite distance) and distances that
// overflow to +inf for every codeword (label 0 again).
static void check_degenerate(std::mt19937_64& engine) {
    for (std::size_t n_codewords : {0, 1, 5, 16, 37}) {
        const std::vector<float> codewords_t = normal_floats(n_codewords * 4, engine);
        for (std::size_t dim : {0, 4}) {
            const float huge = dim ? 1e30f : 0.0f;
            const float point[4] = {huge, -huge, huge, -huge};
            std::uint32_t ref_label = 99, neon_label = 98;
            float ref_distance = -1, neon_distance = -2;
            np::reference::nearest_codeword(point, 1, 4, codewords_t.data(), n_codewords, dim, &ref_label,
                                            &ref_distance);
            np::neon::nearest_codeword(point, 1, 4, codewords_t.data(), n_codewords, dim, &neon_label, &neon_distance);
            CHECK(neon_label == ref_label && neon_label == 0, "degenerate Ks=%zu Ds=%zu: neon %u ref %u", n_codewords,
                  dim, neon_label, ref_label);
            CHECK(neon_distance == ref_distance, "degenerate Ks=%zu Ds=%zu: neon %g ref %g", n_codewords, dim,
                  neon_distance, ref_distance);
        }
    }
}

struct PipelineResult {
    std::vector<float> codewords;
    std::vector<std::uint8_t> codes8;
    std::vector<std::uint16_t> codes16;
    std::vector<float> decoded, tables_l2, tables_dot, adist;
    std::vector<std::int64_t> ids;
    std::vector<float> search_distances;
};

static PipelineResult run_pipeline(np::SimdLevel level, std::size_t Ks, std::size_t M, std::size_t Ds) {
    np::set_simd_level(level);
    CHECK(np::get_simd_level() == level, "set_simd_level(%s)", np::simd_level_name(level));
    CHECK(np::active_kernels().level == level, "active_kernels at %s", np::simd_level_name(level));
    std::mt19937_64 engine(1234);  // same data at every level
    const std::size_t n_train = 1500, n = 700, n_queries = 5, dim = M * Ds, topk = 10;
    const std::vector<float> train = normal_floats(n_train * dim, engine);
    const std::vector<float> base = normal_floats(n * dim, engine);
    const std::vector<float> queries = normal_floats(n_queries * dim, engine);
    PipelineResult result;
    np::KMeansOptions options;
    options.iterations = 10;
    result.codewords = np::train_codewords(train.data(), n_train, dim, M, Ks, options, 42);
    const np::CodebookView codebook{result.codewords.data(), M, Ks, Ds};
    result.codes16.resize(n * M);
    np::encode(base.data(), n, codebook, result.codes16.data());
    if (Ks <= 256) {
        result.codes8.resize(n * M);
        np::encode(base.data(), n, codebook, result.codes8.data());
        for (std::size_t j = 0; j < n * M; ++j) CHECK(result.codes8[j] == result.codes16[j], "uint8 vs uint16 codes");
    }
    result.decoded.resize(n * dim);
    np::decode(result.codes16.data(), n, codebook, result.decoded.data());
    result.tables_l2.resize(n_queries * M * Ks);
    result.tables_dot.resize(n_queries * M * Ks);
    np::distance_tables(queries.data(), n_queries, codebook, np::Metric::l2, result.tables_l2.data());
    np::distance_tables(queries.data(), n_queries, codebook, np::Metric::dot, result.tables_dot.data());
    result.adist.resize(n_queries * n);
    np::adist(result.tables_l2.data(), n_queries, M, Ks, result.codes16.data(), n, result.adist.data());
    result.ids.resize(n_queries * topk);
    result.search_distances.resize(n_queries * topk);
    np::search(result.tables_l2.data(), n_queries, M, Ks, result.codes16.data(), n, topk, np::Metric::l2, nullptr, 0,
               result.ids.data(), result.search_distances.data());
    // Encoding is the nearest codeword per subspace: check against a double brute force.
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t m = 0; m < M; ++m) {
            const float* x = &base[i * dim + m * Ds];
            double best = std::numeric_limits<double>::infinity();
            std::size_t best_k = 0;
            for (std::size_t k = 0; k < Ks; ++k) {
                double distance = 0.0;
                for (std::size_t d = 0; d < Ds; ++d) {
                    const double diff = static_cast<double>(x[d]) - result.codewords[(m * Ks + k) * Ds + d];
                    distance += diff * diff;
                }
                if (distance < best) best = distance, best_k = k;
            }
            if (result.codes16[i * M + m] != best_k) ++wrong;
        }
    CHECK(wrong == 0, "%s: %zu codes are not the nearest codeword (Ks=%zu M=%zu Ds=%zu)", np::simd_level_name(level),
          wrong, Ks, M, Ds);
    return result;
}

static void check_pipeline() {
    const std::size_t shapes[][3] = {{256, 8, 4}, {16, 4, 2}, {37, 3, 3}, {300, 2, 8}, {5, 16, 1}, {17, 4, 16}};
    for (const auto& shape : shapes) {
        const std::size_t Ks = shape[0], M = shape[1], Ds = shape[2];
        const PipelineResult scalar = run_pipeline(np::SimdLevel::scalar, Ks, M, Ds);
        const PipelineResult neon = run_pipeline(np::SimdLevel::neon, Ks, M, Ds);
        CHECK(scalar.codewords == neon.codewords, "codewords differ Ks=%zu M=%zu Ds=%zu", Ks, M, Ds);
        std::size_t differing = 0;
        for (std::size_t j = 0; j < scalar.codes16.size(); ++j) differing += scalar.codes16[j] != neon.codes16[j];
        CHECK(differing == 0, "%zu of %zu codes differ Ks=%zu M=%zu Ds=%zu", differing, scalar.codes16.size(), Ks, M,
              Ds);
        CHECK(scalar.codes8 == neon.codes8, "uint8 codes differ Ks=%zu", Ks);
        CHECK(scalar.decoded == neon.decoded, "decoded differ Ks=%zu", Ks);
        CHECK(scalar.tables_l2 == neon.tables_l2, "l2 tables differ Ks=%zu", Ks);
        CHECK(scalar.tables_dot == neon.tables_dot, "dot tables differ Ks=%zu", Ks);
        CHECK(scalar.adist == neon.adist, "adist differ Ks=%zu", Ks);
        CHECK(scalar.ids == neon.ids, "search ids differ Ks=%zu", Ks);
        CHECK(scalar.search_distances == neon.search_distances, "search distances differ Ks=%zu", Ks);
        std::printf("pipeline Ks=%zu M=%zu Ds=%zu: scalar and neon agree on %zu codes, top-1 id of query 0 = %lld\n",
                    Ks, M, Ds, scalar.codes16.size(), static_cast<long long>(neon.ids[0]));
    }
}

int main() {
#if !defined(__aarch64__)
    std::printf("not built for aarch64\n");
    return 1;
#else
    const char* env = std::getenv("NANOPQ_CPP_SIMD");
    const np::SimdLevel expected = env && std::string(env) == "scalar" ? np::SimdLevel::scalar : np::SimdLevel::neon;
    std::printf("NANOPQ_CPP_SIMD=%s, get_simd_level()=%s, best_simd_level()=%s\n", env ? env : "(unset)",
                np::simd_level_name(np::get_simd_level()), np::simd_level_name(np::best_simd_level()));
    CHECK(np::get_simd_level() == expected, "initial level is %s", np::simd_level_name(np::get_simd_level()));
    CHECK(np::best_simd_level() == np::SimdLevel::neon, "best level");
    CHECK(np::simd_level_supported(np::SimdLevel::neon), "neon supported");
    CHECK(np::simd_level_supported(np::SimdLevel::scalar), "scalar supported");
    CHECK(!np::simd_level_supported(np::SimdLevel::avx2), "avx2 not supported on arm");
    CHECK(!np::simd_level_supported(np::SimdLevel::avx512), "avx512 not supported on arm");
    const std::vector<np::SimdLevel> levels = np::supported_simd_levels();
    CHECK(levels.size() == 2 && levels[0] == np::SimdLevel::scalar && levels[1] == np::SimdLevel::neon,
          "supported_simd_levels size %zu", levels.size());
    CHECK(np::kernels_for(np::SimdLevel::neon).level == np::SimdLevel::neon, "kernels_for(neon)");
    CHECK(np::kernels_for(np::SimdLevel::avx2).level == np::SimdLevel::scalar, "kernels_for(avx2) falls back");
    bool threw = false;
    try {
        np::set_simd_level(np::SimdLevel::avx2);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    CHECK(threw, "set_simd_level(avx2) must throw on arm");

    std::mt19937_64 engine(20240601);
    long shapes = 0;
    for (std::size_t n_codewords : {1, 5, 16, 17, 37, 256, 300})
        for (std::size_t dim : {1, 2, 3, 4, 8, 16})
            for (std::size_t n_points : {1, 3, 64})
                for (std::size_t extra_stride : {0, 5})
                    for (int repeat = 0; repeat < 3; ++repeat) {
                        check_shape(n_codewords, dim, n_points, extra_stride, engine);
                        ++shapes;
                    }
    // Every Ks from 1 to 70 (all block/tail splits) at a few dims.
    for (std::size_t n_codewords = 1; n_codewords <= 70; ++n_codewords)
        for (std::size_t dim : {1, 5, 7}) {
            check_shape(n_codewords, dim, 17, 0, engine);
            ++shapes;
        }
    std::printf("kernel shapes checked: %ld\n", shapes);
    check_ties(engine);
    check_nan(engine);
    check_degenerate(engine);
    check_pipeline();
    std::printf("%ld checks, %ld failures\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
#endif
}
