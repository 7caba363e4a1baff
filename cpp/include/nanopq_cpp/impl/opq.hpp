#pragma once
// Optimized product quantization (Ge et al., "Optimized Product Quantization",
// TPAMI 2014): eigenvalue allocation for the parametric initial rotation, and
// the non-parametric training loop that alternates k-means and Procrustes.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "../common.hpp"
#include "kmeans.hpp"
#include "linalg.hpp"
#include "pq.hpp"
#include "statistics.hpp"
#include "threading.hpp"

namespace nanopq_cpp::impl {

// Eigenvalue allocation (Ge et al. 2014, section 4.2): deal the principal
// directions, largest eigenvalue first, to the M subspaces so that the
// products of eigenvalues per subspace stay balanced, each subspace taking Ds.
// `eigenvalues` are sorted in descending order. Returns the order in which the
// eigenvector columns form R: subspace 0's directions first, then 1's, ...
// Works in log space, as the authors' MATLAB code and nanopq do. This and
// the training functions below trust their caller that dim is a multiple of
// M (subspace_dim_of, in the quantizers' fit and the bindings).
inline std::vector<std::size_t> eigenvalue_allocation(const double* eigenvalues, std::size_t dim,
                                                      std::size_t n_subspaces) {
    require(eigenvalues != nullptr, "eigenvalues are missing");
    const std::size_t subspace_dim = dim / n_subspaces;  // dim a multiple of M: the caller's check
    std::vector<double> log_values(dim);
    for (std::size_t d = 0; d < dim; ++d) {
        // Covariances are positive semi-definite; clamp round-off negatives so
        // the log stays finite (nanopq would produce NaN here).
        const double value = std::isfinite(eigenvalues[d]) ? (std::max)(0.0, eigenvalues[d]) : 0.0;
        log_values[d] = std::log(value + 1e-10);
    }
    const double lowest = *std::min_element(log_values.begin(), log_values.end());
    for (auto& v : log_values) v = v - lowest + 1.0;  // all >= 1, so sums grow with every dimension
    const double full = 1e10 + std::accumulate(log_values.begin(), log_values.end(), 0.0);
    std::vector<double> load(n_subspaces, 0.0);
    std::vector<std::vector<std::size_t>> assigned(n_subspaces);
    std::size_t current = 0;
    for (std::size_t d = 0; d < dim; ++d) {
        assigned[current].push_back(d);
        load[current] += log_values[d];
        if (assigned[current].size() == subspace_dim) load[current] = full;  // closed
        current = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    }
    std::vector<std::size_t> order;
    order.reserve(dim);
    for (const auto& dims : assigned) order.insert(order.end(), dims.begin(), dims.end());
    return order;
}

// Rows per task of the dense products below; fixed for determinism.
inline constexpr std::size_t kRowBlock = 512;

// out (n x dim) = vecs (n x dim) * rotation (dim x dim).
inline void rotate(const float* vecs, std::size_t n, std::size_t dim, const float* rotation, float* out,
                   int num_threads = 0) {
    require(n == 0 || (vecs && rotation && out), "rotate needs input and output buffers");
    const std::size_t n_blocks = (n + kRowBlock - 1) / kRowBlock;
    parallel_for(n_blocks, resolve_num_threads(num_threads), [&](std::size_t block) {
        const std::size_t end = (std::min)(n, (block + 1) * kRowBlock);
        for (std::size_t i = block * kRowBlock; i < end; ++i) {
            float* row = out + i * dim;
            std::fill(row, row + dim, 0.0f);
            for (std::size_t k = 0; k < dim; ++k) {
                const float a = vecs[i * dim + k];
                const float* r = rotation + k * dim;
                for (std::size_t j = 0; j < dim; ++j) row[j] += a * r[j];
            }
        }
    });
}

// x^T y for n rows of x and y (n x dim each), in double: OPQ's
// cross-correlation. Rows are split into blocks whose size depends on n only;
// each block is summed in float by the SIMD kernel, and the blocks are added
// in order in double, so the result is the same at any thread count (BLAS's
// sgemm is not: its split of the long dimension follows the thread count).
inline std::vector<double> cross_correlation(const float* x, const float* y, std::size_t n, std::size_t dim,
                                             int num_threads = 0) {
    require(n == 0 || (x != nullptr && y != nullptr), "cross_correlation needs its inputs");
    const std::size_t block_rows = std::max<std::size_t>(kRowBlock, (n + 63) / 64);  // at most 64 partial sums
    const std::size_t n_blocks = (n + block_rows - 1) / block_rows;
    const std::size_t size = checked_product(dim, dim, "cross-correlation");
    std::vector<std::vector<float>> partial(n_blocks);
    const auto cross_accumulate = active_kernels().cross_accumulate;
    parallel_for(n_blocks, resolve_num_threads(num_threads), [&](std::size_t block) {
        const std::size_t begin = block * block_rows, rows = (std::min)(block_rows, n - begin);
        partial[block].assign(size, 0.0f);
        cross_accumulate(x + begin * dim, y + begin * dim, rows, dim, partial[block].data());
    });
    std::vector<double> total(size, 0.0);
    for (const auto& block : partial)
        for (std::size_t i = 0; i < size; ++i) total[i] += block[i];
    return total;
}

// The parametric rotation: eigenvectors of the covariance, columns ordered by
// eigenvalue_allocation. Row-major dim x dim; x_rotated = x * R. As nanopq,
// eigenvalues are ranked by magnitude (a round-off negative one included).
inline std::vector<float> parametric_rotation(const float* vecs, std::size_t n, std::size_t dim,
                                              std::size_t n_subspaces) {
    const std::vector<double> cov = covariance(vecs, n, dim);
    std::vector<double> eigenvalues(dim), eigenvectors(dim * dim);
    linalg::symmetric_eigen(cov.data(), dim, eigenvalues.data(), eigenvectors.data());
    std::vector<std::size_t> by_magnitude(dim);
    std::iota(by_magnitude.begin(), by_magnitude.end(), std::size_t{0});
    std::stable_sort(by_magnitude.begin(), by_magnitude.end(), [&](std::size_t a, std::size_t b) {
        return std::fabs(eigenvalues[a]) > std::fabs(eigenvalues[b]);
    });
    std::vector<double> ranked_values(dim);
    for (std::size_t d = 0; d < dim; ++d) ranked_values[d] = eigenvalues[by_magnitude[d]];
    const std::vector<std::size_t> order = eigenvalue_allocation(ranked_values.data(), dim, n_subspaces);
    std::vector<float> rotation(dim * dim);
    for (std::size_t r = 0; r < dim; ++r)
        for (std::size_t c = 0; c < dim; ++c)
            rotation[r * dim + c] = static_cast<float>(eigenvectors[r * dim + by_magnitude[order[c]]]);
    return rotation;
}

// The shortest decimal form that reads back as the same float, as Python prints
// numpy's float32 (so the verbose lines look like nanopq's).
inline std::string shortest_float(float value) {
    char text[32];
    for (int digits = 1; digits <= 9; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(value));
        if (std::strtof(text, nullptr) == value) break;
    }
    return text;
}

struct OPQModel {
    std::vector<float> rotation;   // dim x dim, row-major; encode(x) = pq.encode(x * rotation)
    std::vector<float> codewords;  // [M][Ks][Ds]
};

// Non-parametric OPQ: alternate (a) one Lloyd iteration of PQ from a fresh
// start, and (b) R = argmin ||X R - decode(encode(X R))|| over
// orthogonal R, the Procrustes solution R = U V^T of X^T Y = U S V^T. The final
// round trains the PQ for pq_iterations. `initial_codewords`, when given, seeds
// every round (options.init must then be KMeansInit::given). Progress goes
// to `progress`, else to options.log.
inline OPQModel train_opq(const float* vecs, std::size_t n, std::size_t dim, std::size_t n_subspaces,
                          std::size_t n_codewords, const OPQTrainingOptions& options,
                          const float* initial_codewords = nullptr, const Logger& progress = {}) {
    const Logger& log = progress ? progress : options.log;
    require(vecs != nullptr && n > 1, "OPQ training needs at least two vectors");
    require(options.rotation_iterations > 0, "rotation_iterations must be positive");
    const int threads = resolve_num_threads(options.num_threads);
    OPQModel model;
    if (options.parametric_init) {
        model.rotation = parametric_rotation(vecs, n, dim, n_subspaces);
    } else {
        model.rotation.assign(dim * dim, 0.0f);
        for (std::size_t d = 0; d < dim; ++d) model.rotation[d * dim + d] = 1.0f;
    }
    std::vector<float> rotated(checked_product(n, dim, "rotated vectors"));
    std::vector<float> reconstructed(rotated.size());
    const std::size_t code_count = checked_product(n, n_subspaces, "codes");
    std::vector<std::uint32_t> codes(code_count);
    for (std::size_t it = 0; it < options.rotation_iterations; ++it) {
        const bool last = it + 1 == options.rotation_iterations;
        KMeansOptions kmeans_options;
        kmeans_options.iterations = last ? options.pq_iterations : 1;
        // nanopq's verbose lines: the round, then its PQ's fit, then the error.
        if (log) {
            log("OPQ rotation training: " + std::to_string(it) + " / " + std::to_string(options.rotation_iterations));
            log("iter: " + std::to_string(kmeans_options.iterations) + ", seed: " + std::to_string(options.seed));
        }
        rotate(vecs, n, dim, model.rotation.data(), rotated.data(), threads);
        kmeans_options.num_threads = threads;
        // Every round starts k-means afresh, as nanopq does: warm-starting
        // from the previous round's codewords measured a 14% higher error.
        kmeans_options.init = options.init;
        model.codewords = train_codewords(rotated.data(), n, dim, n_subspaces, n_codewords, kmeans_options,
                                          options.seed, initial_codewords, log);
        const CodebookView codebook{model.codewords.data(), n_subspaces, n_codewords, dim / n_subspaces};
        encode(rotated.data(), n, codebook, codes.data(), threads);
        decode(codes.data(), n, codebook, reconstructed.data(), threads);
        if (log) {
            double error = 0.0;
            for (std::size_t i = 0; i < rotated.size(); ++i) {
                const double diff = static_cast<double>(rotated[i]) - reconstructed[i];
                error += diff * diff;
            }
            log("==== Reconstruction error: " + shortest_float(static_cast<float>(std::sqrt(error))) + " ====");
        }
        if (last) break;
        const std::vector<double> cross = cross_correlation(vecs, reconstructed.data(), n, dim, threads);
        std::vector<double> rotation(dim * dim);
        linalg::nearest_orthogonal(cross.data(), dim, rotation.data());
        for (std::size_t i = 0; i < rotation.size(); ++i) model.rotation[i] = static_cast<float>(rotation[i]);
    }
    return model;
}

}  // namespace nanopq_cpp::impl
