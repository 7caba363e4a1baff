// nanopq_cpp/linalg.hpp
//
// Small dense linear algebra for square matrices, used by Optimized Product
// Quantization (OPQ) and by k-means initialisation:
//
//   * symmetric_eigen     - eigenvalue allocation from a covariance matrix,
//                           and factoring a covariance for Gaussian sampling.
//   * nearest_orthogonal  - the Procrustes rotation (OPQ's R update), through
//                           a one-sided Jacobi singular value decomposition.
//
// Conventions: every matrix is row-major and double precision. Only the
// standard library is used. All algorithms visit their data in a fixed order
// with fixed-order reductions, so a given build maps the same input to
// bit-identical output (no threads, no data-dependent reassociation). Bitwise
// equality across *different* compilers or flags is not promised: the
// compiler may contract a*b+c into a fused multiply-add on some targets.
//
// References
//   [GVL]  G. H. Golub, C. F. Van Loan, "Matrix Computations", 4th ed., 2013.
//          Section "Jacobi Methods" (8.5): the 2x2 symmetric Schur
//          decomposition (Algorithm symSchur2), cyclic-by-row Jacobi and its
//          quadratic convergence; Jacobi SVD procedures (8.6); Gram-Schmidt
//          (ch. 5); the orthogonal Procrustes problem (6.4).
//   [HES]  M. R. Hestenes, "Inversion of matrices by biorthogonalization and
//          related results", J. SIAM 6(1):51-90, 1958 (one-sided Jacobi).
//   [DV]   Z. Drmac, K. Veselic, "New fast and accurate Jacobi SVD algorithm
//          I", SIAM J. Matrix Anal. Appl. 29(4):1322-1342, 2008 (relative
//          orthogonality test, safeguarded updates of the column norms).
//   [SCH]  P. H. Schoenemann, "A generalized solution of the orthogonal
//          Procrustes problem", Psychometrika 31(1):1-10, 1966.
//   [PAR]  B. N. Parlett, "The Symmetric Eigenvalue Problem", 1980: Kahan's
//          "twice is enough" re-orthogonalisation for Gram-Schmidt.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common.hpp"

namespace nanopq_cpp::impl::linalg {

namespace detail {

// Machine epsilon of double (2^-52).
constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

// Relative off-diagonal Frobenius norm at which cyclic Jacobi stops. Near
// convergence cyclic Jacobi is quadratically convergent [GVL 8.5], so this
// level is reached about one sweep after ~1e-7; going further buys nothing
// in double precision.
constexpr double kEigenRelativeTolerance = 1e-14;

// Squared column norm below which one-sided Jacobi leaves a column alone
// (about (1.5e-146)^2; see svd_rows).
constexpr double kTinyNormSq = (std::numeric_limits<double>::min)() / kEpsilon;

// Upper bound on Jacobi sweeps. Typical inputs need 6-12 sweeps; the cap only
// guards against pathological inputs so the call always terminates.
constexpr int kMaxSweeps = 100;

[[noreturn]] inline void fail(const char* function_name, const char* reason) {
    throw std::invalid_argument(std::string("nanopq_cpp::linalg::") + function_name + ": " + reason);
}

// Validates the common preconditions of the square-matrix routines and
// returns n * n.
inline std::size_t validate_square(const char* function_name, std::size_t n,
                                   std::initializer_list<const void*> pointers) {
    if (n == 0) {
        fail(function_name, "n must be positive");
    }
    for (const void* pointer : pointers) {
        if (pointer == nullptr) {
            fail(function_name, "null pointer argument");
        }
    }
    return nanopq_cpp::checked_product(n, n, function_name);
}

// Dot product with four independent partial sums. Splitting the sum hides
// floating-point add latency (a single accumulator is latency bound), while
// the fixed split and fixed final combination keep the result deterministic.
inline double dot(const double* x, const double* y, std::size_t length) {
    double sum0 = 0.0;
    double sum1 = 0.0;
    double sum2 = 0.0;
    double sum3 = 0.0;
    std::size_t k = 0;
    for (; k + 4 <= length; k += 4) {
        sum0 += x[k] * y[k];
        sum1 += x[k + 1] * y[k + 1];
        sum2 += x[k + 2] * y[k + 2];
        sum3 += x[k + 3] * y[k + 3];
    }
    for (; k < length; ++k) {
        sum0 += x[k] * y[k];
    }
    return (sum0 + sum1) + (sum2 + sum3);
}

// Applies the plane rotation [x y] <- [x y] * [[c, s], [-s, c]] to two
// contiguous vectors, i.e. x' = c x - s y and y' = s x + c y. This is the
// column update by the Jacobi rotation J(p, q, theta) of [GVL 8.5], written
// on rows of a transposed store so both vectors are contiguous.
inline void rotate_pair(double* x, double* y, std::size_t length, double cosine, double sine) {
    // Two elements per iteration, all loads before all stores: the compiler
    // can then pack each pair into one SIMD register (SLP vectorisation)
    // without proving that x and y do not overlap. The arithmetic per element
    // is unchanged, so the results are the same as the plain loop's.
    std::size_t k = 0;
    for (; k + 2 <= length; k += 2) {
        const double x0 = x[k];
        const double x1 = x[k + 1];
        const double y0 = y[k];
        const double y1 = y[k + 1];
        x[k] = cosine * x0 - sine * y0;
        x[k + 1] = cosine * x1 - sine * y1;
        y[k] = sine * x0 + cosine * y0;
        y[k + 1] = sine * x1 + cosine * y1;
    }
    for (; k < length; ++k) {
        const double x_k = x[k];
        const double y_k = y[k];
        x[k] = cosine * x_k - sine * y_k;
        y[k] = sine * x_k + cosine * y_k;
    }
}

// Jacobi rotation (cosine, sine, tangent) that diagonalises the symmetric 2x2
// matrix [[app, apq], [apq, aqq]] (apq != 0), following symSchur2
// [GVL 8.5]: with tau = (aqq - app) / (2 apq), the smaller root
// t = sign(tau) / (|tau| + sqrt(1 + tau^2)) of t^2 + 2 tau t - 1 = 0 is taken,
// which keeps the rotation angle <= pi/4 (needed for convergence of the
// cyclic method) and avoids cancellation.
struct JacobiRotation {
    double cosine;
    double sine;
    double tangent;
};

inline JacobiRotation jacobi_rotation(double app, double aqq, double apq) {
    const double tau = (aqq - app) / (2.0 * apq);
    double tangent;
    if (std::fabs(tau) > 1e150) {
        // 1 + tau^2 would overflow; the root is 1 / (2 tau) to full precision.
        tangent = 0.5 / tau;
    } else {
        const double magnitude = 1.0 / (std::fabs(tau) + std::sqrt(1.0 + tau * tau));
        tangent = (tau >= 0.0) ? magnitude : -magnitude;
    }
    const double cosine = 1.0 / std::sqrt(1.0 + tangent * tangent);
    return JacobiRotation{cosine, tangent * cosine, tangent};
}

// Power-of-two exponent e with max_abs_value = m * 2^e, m in [0.5, 1), or 0
// for zero. The routines divide their working copy by 2^e: that only changes
// exponents (exact, barring entries more than 2^-1022 below the largest,
// which are negligible anyway), and bounds all entries by 1 so the sums of
// squares can neither overflow nor underflow. Results are scaled back by the
// same power of two.
inline int max_abs_exponent(double max_abs_value) {
    if (max_abs_value == 0.0) {
        return 0;
    }
    int exponent = 0;
    static_cast<void>(std::frexp(max_abs_value, &exponent));
    return exponent;
}

// Index permutation that orders `keys` descending, breaking ties by the
// smaller index so the order is a strict total order (deterministic whatever
// the sort implementation does with equal elements).
inline std::vector<std::size_t> descending_order(const std::vector<double>& keys) {
    std::vector<std::size_t> order(keys.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&keys](std::size_t lhs, std::size_t rhs) {
        if (keys[lhs] != keys[rhs]) {
            return keys[lhs] > keys[rhs];
        }
        return lhs < rhs;
    });
    return order;
}

// Index of the largest |component| (first one on ties).
inline std::size_t index_of_max_abs(const double* values, std::size_t length) {
    std::size_t best = 0;
    for (std::size_t k = 1; k < length; ++k) {
        if (std::fabs(values[k]) > std::fabs(values[best])) {
            best = k;
        }
    }
    return best;
}

// Row stride (in doubles) for an n x n working matrix that is read down its
// columns. With n a multiple of a large power of two, a stride of exactly n
// maps every element of a column to the same cache set, so a column of a few
// hundred elements cannot stay cached. Rounding the stride up to an odd number
// of 64-byte lines (8 doubles) spreads a column over all sets.
inline std::size_t padded_stride(std::size_t n, const char* function_name) {
    constexpr std::size_t kLine = 8;
    if (n > (std::numeric_limits<std::size_t>::max)() - 2 * kLine) {
        fail(function_name, "matrix dimensions overflow size_t");
    }
    std::size_t lines = (n + kLine - 1) / kLine;
    if (lines % 2 == 0) {
        ++lines;
    }
    return lines * kLine;
}

// In a matrix with row stride `stride`, copies the strictly lower part of
// every row j >= first_row (a[j][k], k < j) onto the upper triangle
// (a[k][j]). Works on square tiles staged through a small buffer, so both
// the reads and the writes walk contiguous rows.
inline void copy_lower_to_upper_from(double* a, std::size_t n, std::size_t stride, std::size_t first_row) {
    constexpr std::size_t kTile = 32;
    double tile[kTile][kTile];
    for (std::size_t row_start = first_row; row_start < n; row_start += kTile) {
        const std::size_t row_end = (std::min)(n, row_start + kTile);
        for (std::size_t column_start = 0; column_start < row_end; column_start += kTile) {
            const std::size_t column_end = (std::min)(row_end, column_start + kTile);
            for (std::size_t j = row_start; j < row_end; ++j) {
                const double* row_j = a + j * stride;
                for (std::size_t k = column_start; k < column_end; ++k) {
                    tile[k - column_start][j - row_start] = row_j[k];
                }
            }
            for (std::size_t k = column_start; k < column_end; ++k) {
                double* row_k = a + k * stride;
                for (std::size_t j = (std::max)(row_start, k + 1); j < row_end; ++j) {
                    row_k[j] = tile[k - column_start][j - row_start];
                }
            }
        }
    }
}

// Result of the one-sided Jacobi iteration, in the transposed ("one row per
// column") layout used internally: row r of left_rows is u_r, row r of
// right_rows is v_r, for r in descending order of singular value.
struct SvdRows {
    std::vector<double> left_rows;
    std::vector<double> singular_values;
    std::vector<double> right_rows;
};

// One-sided Jacobi SVD [HES], [GVL 8.6]. `function_name` is only used
// in error messages so callers report their own name.
inline SvdRows svd_rows(const double* a, std::size_t n, std::size_t count, const char* function_name) {
    // Store A transposed: row j of `columns` is column j of A. The method
    // only ever combines two columns at a time, so this makes every inner
    // loop walk contiguous memory.
    std::vector<double> columns(count);
    double max_abs_value = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            const double value = a[i * n + j];
            if (!std::isfinite(value)) {
                fail(function_name, "matrix contains NaN or infinity");
            }
            max_abs_value = (std::max)(max_abs_value, std::fabs(value));
            columns[j * n + i] = value;
        }
    }
    const int exponent = max_abs_exponent(max_abs_value);
    for (double& value : columns) {
        value = std::ldexp(value, -exponent);
    }

    // V starts as the identity and accumulates every rotation applied to the
    // columns, so that A V = W holds throughout (W = rotated columns).
    // Stored transposed too: row j of `right_rows` is column j of V.
    std::vector<double> right_rows(count, 0.0);
    for (std::size_t j = 0; j < n; ++j) {
        right_rows[j * n + j] = 1.0;
    }

    // Two columns count as orthogonal once |cos(angle)| <= tolerance. The
    // relative (cosine) test of [DV] lets even tiny columns be made
    // orthogonal to large ones, which is what gives U orthonormal columns
    // for nearly rank-deficient A. The factor n covers the rounding error of
    // an n-term dot product; a tighter bound can stall on rounding noise.
    const double orthogonality_tolerance = kEpsilon * static_cast<double>(n);

    std::vector<double> norm_sq(n);
    for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
        // Squared column norms are refreshed exactly once per sweep and
        // updated in O(1) after each rotation in between (see below).
        for (std::size_t j = 0; j < n; ++j) {
            const double* column = columns.data() + j * n;
            norm_sq[j] = dot(column, column, n);
        }
        std::size_t rotations_this_sweep = 0;
        // Cyclic-by-row pair order (p, q), p < q [GVL 8.5].
        for (std::size_t p = 0; p + 1 < n; ++p) {
            double* column_p = columns.data() + p * n;
            double* right_p = right_rows.data() + p * n;
            for (std::size_t q = p + 1; q < n; ++q) {
                const double alpha = norm_sq[p];
                const double beta = norm_sq[q];
                if (alpha < kTinyNormSq || beta < kTinyNormSq) {
                    // A zero column is orthogonal to everything. Columns this
                    // small (norm < 1e-146 against a largest entry >= 0.5)
                    // are null for the purpose of U below, and rotating them
                    // would work on subnormal numbers that carry too few
                    // digits for the orthogonality test to ever pass.
                    continue;
                }
                double* column_q = columns.data() + q * n;
                const double gamma = dot(column_p, column_q, n);
                if (!(std::fabs(gamma) > orthogonality_tolerance * std::sqrt(alpha) * std::sqrt(beta))) {
                    continue;
                }
                // Diagonalise the 2x2 Gram matrix [[alpha, gamma], [gamma,
                // beta]] of the pair; the same rotation applied to the columns
                // makes them orthogonal.
                const JacobiRotation rotation = jacobi_rotation(alpha, beta, gamma);
                rotate_pair(column_p, column_q, n, rotation.cosine, rotation.sine);
                rotate_pair(right_p, right_rows.data() + q * n, n, rotation.cosine, rotation.sine);
                ++rotations_this_sweep;

                // The rotated Gram diagonal is alpha - t gamma and beta + t gamma
                // (symSchur2). The subtraction cancels when a column shrinks a
                // lot, so in that case recompute the norm from the data
                // ([DV] use the same kind of safeguard).
                const double shift = rotation.tangent * gamma;
                const double updated_alpha = alpha - shift;
                const double updated_beta = beta + shift;
                norm_sq[p] = (updated_alpha > 0.01 * alpha) ? updated_alpha : dot(column_p, column_p, n);
                norm_sq[q] = (updated_beta > 0.01 * beta) ? updated_beta : dot(column_q, column_q, n);
            }
        }
        if (rotations_this_sweep == 0) {
            break;  // Every pair passed the orthogonality test.
        }
    }

    // Singular values are the column norms of W = A V, recomputed from the
    // data rather than taken from the running estimates.
    std::vector<double> column_norms(n);
    for (std::size_t j = 0; j < n; ++j) {
        const double* column = columns.data() + j * n;
        column_norms[j] = std::sqrt(dot(column, column, n));
    }
    const std::vector<std::size_t> order = descending_order(column_norms);

    SvdRows result;
    result.left_rows.assign(count, 0.0);
    result.singular_values.resize(n);
    result.right_rows.resize(count);

    // Columns at or below this norm are rounding noise left over from the
    // rotations (e.g. the difference of two equal columns of A): their
    // direction says nothing about A, so u for them is replaced below by a
    // deterministic completion of the basis. The singular value reported is
    // still the column norm, so each such replacement changes U S V^T by at
    // most n * eps * sigma_max.
    const double largest_norm = column_norms[order[0]];
    const double null_threshold = largest_norm * static_cast<double>(n) * kEpsilon;

    // Squared norms of the rows of the partial U built so far; 1 minus this is
    // how much of unit vector e_k lies outside span(U), used to pick
    // completion candidates.
    std::vector<double> u_row_norm_sq(n, 0.0);
    std::size_t accepted = 0;
    for (; accepted < n; ++accepted) {
        const std::size_t source = order[accepted];
        const double norm = column_norms[source];
        if (!(norm > null_threshold) || norm == 0.0) {
            break;  // Sorted descending: all remaining columns are null too.
        }
        const double* column = columns.data() + source * n;
        double* u_row = result.left_rows.data() + accepted * n;
        for (std::size_t k = 0; k < n; ++k) {
            u_row[k] = column[k] / norm;
            u_row_norm_sq[k] += u_row[k] * u_row[k];
        }
    }

    // Complete U to an orthonormal basis with Gram-Schmidt on unit vectors
    // [GVL ch. 5]. The candidate e_k with the largest component outside
    // span(U) is chosen (smallest k on ties): since the residuals sum to the
    // number of missing vectors, that component is >= 1/sqrt(n), so the
    // normalisation is well conditioned. Orthogonalising twice makes the
    // result orthogonal to working precision [PAR].
    std::vector<double> candidate(n);
    for (std::size_t slot = accepted; slot < n; ++slot) {
        std::size_t best_k = 0;
        for (std::size_t k = 1; k < n; ++k) {
            if (1.0 - u_row_norm_sq[k] > 1.0 - u_row_norm_sq[best_k]) {
                best_k = k;
            }
        }
        std::fill(candidate.begin(), candidate.end(), 0.0);
        candidate[best_k] = 1.0;
        for (int pass = 0; pass < 2; ++pass) {
            for (std::size_t r = 0; r < slot; ++r) {
                const double* u_row = result.left_rows.data() + r * n;
                const double projection = dot(u_row, candidate.data(), n);
                for (std::size_t k = 0; k < n; ++k) {
                    candidate[k] -= projection * u_row[k];
                }
            }
        }
        const double candidate_norm = std::sqrt(dot(candidate.data(), candidate.data(), n));
        double* u_row = result.left_rows.data() + slot * n;
        for (std::size_t k = 0; k < n; ++k) {
            u_row[k] = candidate[k] / candidate_norm;
            u_row_norm_sq[k] += u_row[k] * u_row[k];
        }
    }

    for (std::size_t r = 0; r < n; ++r) {
        const std::size_t source = order[r];
        result.singular_values[r] = std::ldexp(column_norms[source], exponent);
        double* u_row = result.left_rows.data() + r * n;
        double* v_row = result.right_rows.data() + r * n;
        std::copy(right_rows.begin() + static_cast<std::ptrdiff_t>(source * n),
                  right_rows.begin() + static_cast<std::ptrdiff_t>(source * n + n), v_row);
        // Singular vectors are defined up to a joint sign flip of (u_r, v_r);
        // fix it so the largest-magnitude component of v_r is positive.
        if (v_row[index_of_max_abs(v_row, n)] < 0.0) {
            for (std::size_t k = 0; k < n; ++k) {
                u_row[k] = -u_row[k];
                v_row[k] = -v_row[k];
            }
        }
    }
    return result;
}

}  // namespace detail

// Eigen-decomposition of a symmetric n x n matrix by the cyclic-by-row
// Jacobi method [GVL 8.5].
//
// Only the upper triangle (j >= i) of `matrix` is read; it is mirrored into
// the lower triangle, so an input whose lower triangle holds rounding noise
// (e.g. an accumulated covariance) is treated as exactly symmetric.
// Output: `eigenvalues` receives n values in descending order; `eigenvectors`
// (row-major n x n) holds in column j the unit eigenvector of eigenvalues[j],
// signed so that its largest-magnitude component is positive (first such
// component on ties). The outputs may alias the input (not each other): they
// are written only after the input has been read.
// Jacobi is chosen over QR-based methods for its simplicity and because it
// computes eigenvectors that are orthogonal to working precision.
// Throws std::invalid_argument if n == 0, a pointer is null, or the upper
// triangle contains NaN/Inf.
inline void symmetric_eigen(const double* matrix, std::size_t n, double* eigenvalues, double* eigenvectors) {
    constexpr const char* kName = "symmetric_eigen";
    const std::size_t count = detail::validate_square(kName, n, {matrix, eigenvalues, eigenvectors});

    // Working copy with a padded row stride (see padded_stride).
    const std::size_t stride = detail::padded_stride(n, kName);
    std::vector<double> work(nanopq_cpp::checked_product(n, stride, kName), 0.0);
    double max_abs_value = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = i; j < n; ++j) {
            const double value = matrix[i * n + j];
            if (!std::isfinite(value)) {
                detail::fail(kName, "matrix contains NaN or infinity");
            }
            max_abs_value = (std::max)(max_abs_value, std::fabs(value));
            work[i * stride + j] = value;
            work[j * stride + i] = value;
        }
    }
    // Exact power-of-two scaling so the Frobenius norms below cannot overflow.
    const int exponent = detail::max_abs_exponent(max_abs_value);
    for (double& value : work) {
        value = std::ldexp(value, -exponent);
    }

    // Accumulated rotations Q with Q^T A Q -> diagonal. Stored transposed:
    // row j of `vector_rows` is column j of Q (the j-th eigenvector), so each
    // rotation updates two contiguous rows.
    std::vector<double> vector_rows(count, 0.0);
    for (std::size_t j = 0; j < n; ++j) {
        vector_rows[j * n + j] = 1.0;
    }

    // ||A||_F is invariant under the orthogonal similarities applied, so it
    // is computed once and serves as the scale for the stopping test.
    double frobenius_sq = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double* row = work.data() + i * stride;
        frobenius_sq += detail::dot(row, row, n);
    }
    const double frobenius = std::sqrt(frobenius_sq);
    const double off_diagonal_limit = detail::kEigenRelativeTolerance * frobenius;
    // Entries this small are not rotated away: even if all n(n-1) of them
    // remained, off(A) would still be below off_diagonal_limit.
    const double negligible_entry = off_diagonal_limit / static_cast<double>(n);

    // Memory layout of the rotations. A rotation in the (p, q) plane changes
    // rows p, q and columns p, q; updating the columns in place would touch n
    // cache lines per rotation, which dominates the run time for n in the
    // hundreds. Instead each pass p (the steps (p, q), q = p+1..n-1, of the
    // cyclic-by-rows order) only rotates rows, and symmetry is restored in
    // one cache-friendly sweep at the end of the pass. During pass p:
    //   * row p is always current (it takes part in every step);
    //   * for p < j < q, step (p, j) wrote the current a_jq into row j and
    //     nothing has changed it since, so row q is refreshed from column q
    //     of those rows just before step (p, q).
    // Every deferred column entry is copied from the row entry that the same
    // rotation produced, exactly as an in-place update would compute it, so
    // deferring changes no bit of the result and the working matrix is
    // bitwise symmetric between passes.
    for (int sweep = 0; sweep < detail::kMaxSweeps; ++sweep) {
        // off(A) = Frobenius norm of the off-diagonal part [GVL 8.5].
        // Summed directly over the strict upper triangle (the matrix is
        // symmetric): forming ||row||^2 - a_ii^2 instead would cancel
        // catastrophically exactly when off(A) is small.
        double off_diagonal_sq = 0.0;
        for (std::size_t i = 0; i + 1 < n; ++i) {
            const double* row_tail = work.data() + i * stride + i + 1;
            off_diagonal_sq += detail::dot(row_tail, row_tail, n - i - 1);
        }
        if (!(std::sqrt(2.0 * off_diagonal_sq) > off_diagonal_limit)) {
            break;
        }
        std::size_t rotations_this_sweep = 0;
        for (std::size_t p = 0; p + 1 < n; ++p) {
            double* row_p = work.data() + p * stride;
            double* vector_p = vector_rows.data() + p * n;
            for (std::size_t q = p + 1; q < n; ++q) {
                double* row_q = work.data() + q * stride;
                // Bring row q up to date. Earlier steps (p, j) of this pass
                // updated column j in row-form only, so the current a_qj
                // (p < j < q) lives in row j; a_qp is never needed because
                // the rotation recomputes it. Everything else in row q is
                // current (see the invariant above).
                for (std::size_t j = p + 1; j < q; ++j) {
                    row_q[j] = work[j * stride + q];
                }
                const double apq = row_p[q];
                if (!(std::fabs(apq) > negligible_entry)) {
                    continue;
                }
                const double app = row_p[p];
                const double aqq = row_q[q];
                const detail::JacobiRotation rotation = detail::jacobi_rotation(app, aqq, apq);
                // Row half of A <- J^T A J (contiguous). The column half is
                // deferred: by symmetry the rotated columns equal these rows.
                detail::rotate_pair(row_p, row_q, n, rotation.cosine, rotation.sine);
                // The 2x2 pivot block is set from the closed form of
                // symSchur2, which is more accurate than the generic update
                // and makes the annihilated entry exactly zero.
                row_p[p] = app - rotation.tangent * apq;
                row_q[q] = aqq + rotation.tangent * apq;
                row_p[q] = 0.0;
                row_q[p] = 0.0;
                detail::rotate_pair(vector_p, vector_rows.data() + q * n, n, rotation.cosine, rotation.sine);
                ++rotations_this_sweep;
            }
            // End of pass: restore full symmetry from the rows that hold the
            // current values. Row p is current everywhere; for p < j the
            // current a_kj (k < j) is in row j, i.e. the lower triangle.
            for (std::size_t k = 0; k < n; ++k) {
                work[k * stride + p] = row_p[k];
            }
            detail::copy_lower_to_upper_from(work.data(), n, stride, p + 1);
        }
        if (rotations_this_sweep == 0) {
            break;
        }
    }

    std::vector<double> diagonal(n);
    for (std::size_t j = 0; j < n; ++j) {
        diagonal[j] = work[j * stride + j];
    }
    const std::vector<std::size_t> order = detail::descending_order(diagonal);
    // Outputs are written only now, after the last read of `matrix`.
    for (std::size_t r = 0; r < n; ++r) {
        const std::size_t source = order[r];
        const double* vector = vector_rows.data() + source * n;
        const double sign = (vector[detail::index_of_max_abs(vector, n)] < 0.0) ? -1.0 : 1.0;
        eigenvalues[r] = std::ldexp(diagonal[source], exponent);
        for (std::size_t k = 0; k < n; ++k) {
            eigenvectors[k * n + r] = sign * vector[k];
        }
    }
}

// Orthogonal Procrustes [SCH], [GVL 6.4]: the orthogonal r maximising
// trace(r^T a) (equivalently minimising ||a - r||_F, or, with a = X^T Y,
// ||X r - Y||_F), given by r = u v^T for a = u s v^T. In OPQ this is the
// rotation update with a = X^T Y (data times reconstructed codes).
// For rank-deficient a the maximiser is not unique; the deterministic basis
// completion of svd_rows makes the returned choice deterministic. r may alias a.
// Throws std::invalid_argument if n == 0, a pointer is null, or a contains
// NaN/Inf.
inline void nearest_orthogonal(const double* a, std::size_t n, double* r) {
    constexpr const char* kName = "nearest_orthogonal";
    const std::size_t count = detail::validate_square(kName, n, {a, r});
    const detail::SvdRows rows = detail::svd_rows(a, n, count, kName);
    // r[i][j] = sum_k u[i][k] v[j][k]. In the transposed store u[i][k] is
    // left_rows[k][i], so gather U and V row-major first to make the sum a
    // contiguous dot product.
    std::vector<double> u_row_major(count);
    std::vector<double> v_row_major(count);
    for (std::size_t k = 0; k < n; ++k) {
        for (std::size_t i = 0; i < n; ++i) {
            u_row_major[i * n + k] = rows.left_rows[k * n + i];
            v_row_major[i * n + k] = rows.right_rows[k * n + i];
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            r[i * n + j] = detail::dot(u_row_major.data() + i * n, v_row_major.data() + j * n, n);
        }
    }
}

}  // namespace nanopq_cpp::impl::linalg
