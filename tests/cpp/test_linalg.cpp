// Tests for nanopq_cpp/impl/linalg.hpp.
//
// Builds on its own:
//   g++ -std=c++17 -O2 -Wall -Wextra -I cpp/include tests/cpp/test_linalg.cpp -o /tmp/test_linalg
//   /tmp/test_linalg
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/impl/linalg.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

namespace {

namespace la = nanopq_cpp::impl::linalg;
using Matrix = std::vector<double>;  // row-major, n x n unless stated

// splitmix64 (Steele, Lea, Flood 2014): tiny, fully specified generator, so
// the test data are identical on every platform (std:: distributions are
// implementation-defined).
class SplitMix64 {
public:
    explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() {
        state_ += 0x9E3779B97F4A7C15ULL;
        std::uint64_t z = state_;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

    // Uniform in [-1, 1), from the top 53 bits.
    double uniform_symmetric() { return static_cast<double>(next() >> 11) * 0x1.0p-52 - 1.0; }

private:
    std::uint64_t state_;
};

Matrix random_matrix(std::size_t n, std::uint64_t seed) {
    SplitMix64 rng(seed);
    Matrix m(n * n);
    for (double& value : m) {
        value = rng.uniform_symmetric();
    }
    return m;
}

Matrix random_symmetric(std::size_t n, std::uint64_t seed) {
    Matrix m = random_matrix(n, seed);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = i + 1; j < n; ++j) {
            m[j * n + i] = m[i * n + j];
        }
    }
    return m;
}

Matrix identity(std::size_t n) {
    Matrix m(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        m[i * n + i] = 1.0;
    }
    return m;
}

Matrix transpose(const Matrix& m, std::size_t n) {
    Matrix t(n * n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            t[j * n + i] = m[i * n + j];
        }
    }
    return t;
}

// Reference product, the textbook triple loop.
Matrix naive_product(const Matrix& a, const Matrix& b, std::size_t rows, std::size_t inner, std::size_t cols) {
    Matrix c(rows * cols, 0.0);
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = 0; j < cols; ++j) {
            double sum = 0.0;
            for (std::size_t k = 0; k < inner; ++k) {
                sum += a[i * inner + k] * b[k * cols + j];
            }
            c[i * cols + j] = sum;
        }
    }
    return c;
}

double frobenius(const Matrix& m) {
    double sum = 0.0;
    for (double value : m) {
        sum += value * value;
    }
    return std::sqrt(sum);
}

double max_abs_difference(const Matrix& a, const Matrix& b) {
    REQUIRE(a.size() == b.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, std::fabs(a[i] - b[i]));
    }
    return worst;
}

// ||a - b||_F / ||a||_F (or the absolute difference when a is zero).
double relative_error(const Matrix& a, const Matrix& b) {
    Matrix difference(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        difference[i] = a[i] - b[i];
    }
    const double scale = frobenius(a);
    return scale > 0.0 ? frobenius(difference) / scale : frobenius(difference);
}

// max |Q^T Q - I|: how far the columns of q are from orthonormal.
double orthonormality_error(const Matrix& q, std::size_t n) {
    const Matrix gram = naive_product(transpose(q, n), q, n, n, n);
    return max_abs_difference(gram, identity(n));
}

// left * diag(scales) * right^T
Matrix scaled_product(const Matrix& left, const std::vector<double>& scales, const Matrix& right, std::size_t n) {
    Matrix scaled_left = left;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            scaled_left[i * n + j] *= scales[j];
        }
    }
    return naive_product(scaled_left, transpose(right, n), n, n, n);
}

double trace_of_transpose_product(const Matrix& r, const Matrix& a, std::size_t n) {
    double trace = 0.0;  // trace(r^T a) = sum_ij r_ij a_ij
    for (std::size_t i = 0; i < n * n; ++i) {
        trace += r[i] * a[i];
    }
    return trace;
}

// Random orthogonal matrix as a product of Householder reflections
// I - 2 v v^T / (v^T v); built here so the test does not rely on the code
// under test.
Matrix random_orthogonal(std::size_t n, std::uint64_t seed) {
    SplitMix64 rng(seed);
    Matrix q = identity(n);
    for (std::size_t reflection = 0; reflection < n; ++reflection) {
        std::vector<double> v(n);
        double norm_sq = 0.0;
        for (double& value : v) {
            value = rng.uniform_symmetric();
            norm_sq += value * value;
        }
        Matrix h = identity(n);
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
                h[i * n + j] -= 2.0 * v[i] * v[j] / norm_sq;
            }
        }
        q = naive_product(q, h, n, n, n);
    }
    return q;
}

bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

struct Eigen {
    std::vector<double> values;
    Matrix vectors;
};

Eigen eigen_of(const Matrix& m, std::size_t n) {
    Eigen result{std::vector<double>(n), Matrix(n * n)};
    la::symmetric_eigen(m.data(), n, result.values.data(), result.vectors.data());
    return result;
}

struct Svd {
    Matrix u;
    std::vector<double> singular_values;
    Matrix v;
};

// The one-sided Jacobi SVD behind nearest_orthogonal, as u, singular values
// and v (row-major, one singular vector per column).
Svd svd_of(const Matrix& a, std::size_t n) {
    const la::detail::SvdRows rows = la::detail::svd_rows(a.data(), n, n * n, "svd_of");
    Svd result{transpose(rows.left_rows, n), rows.singular_values, transpose(rows.right_rows, n)};
    return result;
}

void check_descending(const std::vector<double>& values) {
    for (std::size_t i = 1; i < values.size(); ++i) {
        CHECK(values[i - 1] >= values[i]);
    }
}

// Column j's largest-magnitude entry (first on ties) must be positive.
void check_sign_convention(const Matrix& vectors, std::size_t n) {
    for (std::size_t j = 0; j < n; ++j) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < n; ++i) {
            if (std::fabs(vectors[i * n + j]) > std::fabs(vectors[best * n + j])) {
                best = i;
            }
        }
        CHECK(vectors[best * n + j] > 0.0);
    }
}

void check_eigen_decomposition(const Matrix& m, std::size_t n, const Eigen& eigen) {
    CHECK(relative_error(m, scaled_product(eigen.vectors, eigen.values, eigen.vectors, n)) < 1e-10);
    CHECK(orthonormality_error(eigen.vectors, n) < 1e-12);
    check_descending(eigen.values);
    check_sign_convention(eigen.vectors, n);
}

void check_svd(const Matrix& a, std::size_t n, const Svd& svd) {
    CHECK(relative_error(a, scaled_product(svd.u, svd.singular_values, svd.v, n)) < 1e-10);
    CHECK(orthonormality_error(svd.u, n) < 1e-12);
    CHECK(orthonormality_error(svd.v, n) < 1e-12);
    check_descending(svd.singular_values);
    for (double sigma : svd.singular_values) {
        CHECK(sigma >= 0.0);
    }
    check_sign_convention(svd.v, n);
}

const std::size_t kSizes[] = {1, 2, 3, 16, 64, 200};

}  // namespace

TEST_CASE("symmetric_eigen reconstructs random symmetric matrices") {
    for (std::size_t n : kSizes) {
        CAPTURE(n);
        const Matrix m = random_symmetric(n, 1000 + n);
        check_eigen_decomposition(m, n, eigen_of(m, n));
    }
}

TEST_CASE("symmetric_eigen reads only the upper triangle") {
    const std::size_t n = 16;
    const Matrix symmetric = random_symmetric(n, 7);
    Matrix garbage_below = symmetric;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            garbage_below[i * n + j] = 1e6 + static_cast<double>(i * n + j);
        }
    }
    garbage_below[n * n - n] = std::numeric_limits<double>::quiet_NaN();  // lower-left corner
    const Eigen expected = eigen_of(symmetric, n);
    const Eigen actual = eigen_of(garbage_below, n);
    CHECK(bitwise_equal(expected.values, actual.values));
    CHECK(bitwise_equal(expected.vectors, actual.vectors));
}

TEST_CASE("symmetric_eigen of a diagonal matrix sorts the diagonal") {
    const std::size_t n = 5;
    const double diagonal[n] = {2.0, -7.0, 0.0, 11.5, 3.0};
    Matrix m(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        m[i * n + i] = diagonal[i];
    }
    const Eigen eigen = eigen_of(m, n);
    const std::vector<double> expected_values = {11.5, 3.0, 2.0, 0.0, -7.0};
    CHECK(eigen.values == expected_values);  // exact: no rotation is needed
    // The eigenvectors are the unit vectors, permuted like the values.
    const std::size_t source_index[n] = {3, 4, 0, 2, 1};
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t i = 0; i < n; ++i) {
            CHECK(eigen.vectors[i * n + j] == (i == source_index[j] ? 1.0 : 0.0));
        }
    }
}

TEST_CASE("symmetric_eigen: known 2x2 and 3x3 spectra") {
    SUBCASE("[[2, 1], [1, 2]] has eigenvalues 3 and 1") {
        const Matrix m = {2.0, 1.0, 1.0, 2.0};
        const Eigen eigen = eigen_of(m, 2);
        CHECK(eigen.values[0] == doctest::Approx(3.0).epsilon(1e-14));
        CHECK(eigen.values[1] == doctest::Approx(1.0).epsilon(1e-14));
        const double h = 1.0 / std::sqrt(2.0);
        CHECK(std::fabs(std::fabs(eigen.vectors[0]) - h) < 1e-15);
        CHECK(eigen.vectors[0] * eigen.vectors[2] > 0.0);  // (1, 1) direction for 3
        check_eigen_decomposition(m, 2, eigen);
    }
    SUBCASE("[[0, 1], [1, 0]] (zero diagonal, indefinite)") {
        const Matrix m = {0.0, 1.0, 1.0, 0.0};
        const Eigen eigen = eigen_of(m, 2);
        CHECK(eigen.values[0] == doctest::Approx(1.0).epsilon(1e-15));
        CHECK(eigen.values[1] == doctest::Approx(-1.0).epsilon(1e-15));
        check_eigen_decomposition(m, 2, eigen);
    }
    SUBCASE("1x1") {
        const Matrix m = {-4.25};
        const Eigen eigen = eigen_of(m, 1);
        CHECK(eigen.values[0] == -4.25);
        CHECK(eigen.vectors[0] == 1.0);
    }
}

TEST_CASE("symmetric_eigen with repeated eigenvalues") {
    // I + 3 x x^T: eigenvalue 1 + 3|x|^2 once and 1 (n - 1)-fold.
    const std::size_t n = 20;
    SplitMix64 rng(99);
    std::vector<double> x(n);
    double x_norm_sq = 0.0;
    for (double& value : x) {
        value = rng.uniform_symmetric();
        x_norm_sq += value * value;
    }
    Matrix m = identity(n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            m[i * n + j] += 3.0 * x[i] * x[j];
        }
    }
    const Eigen eigen = eigen_of(m, n);
    check_eigen_decomposition(m, n, eigen);
    CHECK(eigen.values[0] == doctest::Approx(1.0 + 3.0 * x_norm_sq).epsilon(1e-13));
    for (std::size_t j = 1; j < n; ++j) {
        CHECK(std::fabs(eigen.values[j] - 1.0) < 1e-13);
    }
}

TEST_CASE("symmetric_eigen of a covariance matrix is non-negative") {
    // Covariance of 50 samples in 30 dimensions: positive semi-definite.
    const std::size_t samples = 50;
    const std::size_t n = 30;
    SplitMix64 rng(5);
    Matrix data(samples * n);
    for (double& value : data) {
        value = rng.uniform_symmetric();
    }
    Matrix covariance(n * n, 0.0);
    for (std::size_t s = 0; s < samples; ++s) {
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
                covariance[i * n + j] += data[s * n + i] * data[s * n + j] / static_cast<double>(samples);
            }
        }
    }
    const Eigen eigen = eigen_of(covariance, n);
    check_eigen_decomposition(covariance, n, eigen);
    CHECK(eigen.values.back() > 0.0);
    double trace = 0.0;
    double eigen_sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        trace += covariance[i * n + i];
        eigen_sum += eigen.values[i];
    }
    CHECK(eigen_sum == doctest::Approx(trace).epsilon(1e-13));
}

TEST_CASE("the Jacobi SVD reconstructs random matrices") {
    for (std::size_t n : kSizes) {
        CAPTURE(n);
        const Matrix a = random_matrix(n, 2000 + n);
        check_svd(a, n, svd_of(a, n));
    }
}

TEST_CASE("the Jacobi SVD singular values match the eigenvalues of a^T a") {
    const std::size_t n = 12;
    const Matrix a = random_matrix(n, 31);
    const Svd svd = svd_of(a, n);
    const Eigen gram = eigen_of(naive_product(transpose(a, n), a, n, n, n), n);
    for (std::size_t j = 0; j < n; ++j) {
        CHECK(svd.singular_values[j] * svd.singular_values[j] == doctest::Approx(gram.values[j]).epsilon(1e-10));
    }
}

TEST_CASE("the Jacobi SVD of small known matrices") {
    SUBCASE("1x1 negative") {
        const Svd svd = svd_of({-3.0}, 1);
        CHECK(svd.singular_values[0] == 3.0);
        CHECK(svd.u[0] == -1.0);
        CHECK(svd.v[0] == 1.0);
    }
    SUBCASE("diagonal with mixed signs") {
        const std::size_t n = 4;
        Matrix a(n * n, 0.0);
        const double diagonal[n] = {1.0, -5.0, 0.5, 2.0};
        for (std::size_t i = 0; i < n; ++i) {
            a[i * n + i] = diagonal[i];
        }
        const Svd svd = svd_of(a, n);
        const std::vector<double> expected = {5.0, 2.0, 1.0, 0.5};
        CHECK(svd.singular_values == expected);
        check_svd(a, n, svd);
    }
}

TEST_CASE("the Jacobi SVD handles rank-deficient input") {
    const std::size_t n = 16;
    SUBCASE("a zero column") {
        Matrix a = random_matrix(n, 41);
        for (std::size_t i = 0; i < n; ++i) {
            a[i * n + 5] = 0.0;
        }
        const Svd svd = svd_of(a, n);
        check_svd(a, n, svd);
        CHECK(svd.singular_values[n - 1] == 0.0);
        CHECK(svd.singular_values[n - 2] > 1e-3);
    }
    SUBCASE("a duplicated column") {
        Matrix a = random_matrix(n, 43);
        for (std::size_t i = 0; i < n; ++i) {
            a[i * n + 9] = a[i * n + 2];
        }
        const Svd svd = svd_of(a, n);
        check_svd(a, n, svd);
        CHECK(svd.singular_values[n - 1] < 1e-13 * svd.singular_values[0]);
        CHECK(svd.singular_values[n - 2] > 1e-3);
    }
    SUBCASE("rank one") {
        Matrix a(n * n);
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
                a[i * n + j] = static_cast<double>(i + 1) * (static_cast<double>(j) - 7.5);
            }
        }
        const Svd svd = svd_of(a, n);
        check_svd(a, n, svd);
        for (std::size_t j = 1; j < n; ++j) {
            CHECK(svd.singular_values[j] < 1e-13 * svd.singular_values[0]);
        }
    }
    SUBCASE("the zero matrix") {
        const Matrix a(n * n, 0.0);
        const Svd svd = svd_of(a, n);
        check_svd(a, n, svd);
        for (double sigma : svd.singular_values) {
            CHECK(sigma == 0.0);
        }
    }
}

TEST_CASE("the Jacobi SVD is exactly scale-equivariant for powers of two") {
    // Internally the input is rescaled by a power of two, so huge or tiny
    // inputs neither overflow nor lose precision.
    const std::size_t n = 10;
    const Matrix a = random_matrix(n, 51);
    for (int exponent : {-900, -300, 300, 900}) {
        CAPTURE(exponent);
        Matrix scaled = a;
        for (double& value : scaled) {
            value = std::ldexp(value, exponent);
        }
        const Svd reference = svd_of(a, n);
        const Svd svd = svd_of(scaled, n);
        CHECK(bitwise_equal(reference.u, svd.u));
        CHECK(bitwise_equal(reference.v, svd.v));
        for (std::size_t j = 0; j < n; ++j) {
            CHECK(svd.singular_values[j] == std::ldexp(reference.singular_values[j], exponent));
        }
    }
}

TEST_CASE("nearest_orthogonal returns an orthogonal input unchanged") {
    for (std::size_t n : {1, 2, 3, 16, 64}) {
        CAPTURE(n);
        const Matrix q = random_orthogonal(n, 61 + n);
        REQUIRE(orthonormality_error(q, n) < 1e-13);
        Matrix r(n * n);
        la::nearest_orthogonal(q.data(), n, r.data());
        CHECK(max_abs_difference(q, r) < 1e-13);
    }
    SUBCASE("a signed permutation") {
        const Matrix p = {0.0, -1.0, 0.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0};
        Matrix r(9);
        la::nearest_orthogonal(p.data(), 3, r.data());
        CHECK(max_abs_difference(p, r) < 1e-15);
    }
}

TEST_CASE("nearest_orthogonal maximises trace(r^T a)") {
    for (std::size_t n : {2, 3, 16, 64}) {
        CAPTURE(n);
        const Matrix a = random_matrix(n, 71 + n);
        Matrix r(n * n);
        la::nearest_orthogonal(a.data(), n, r.data());
        CHECK(orthonormality_error(r, n) < 1e-12);
        // The maximum equals the nuclear norm (sum of singular values).
        const Svd svd = svd_of(a, n);
        double nuclear_norm = 0.0;
        for (double sigma : svd.singular_values) {
            nuclear_norm += sigma;
        }
        const double best = trace_of_transpose_product(r, a, n);
        CHECK(best == doctest::Approx(nuclear_norm).epsilon(1e-12));
        for (std::uint64_t trial = 0; trial < 5; ++trial) {
            const Matrix rotation = random_orthogonal(n, 500 + 10 * n + trial);
            CHECK(best > trace_of_transpose_product(rotation, a, n));
        }
    }
}

TEST_CASE("nearest_orthogonal of a rank-deficient matrix is still orthogonal") {
    const std::size_t n = 8;
    Matrix a = random_matrix(n, 81);
    for (std::size_t i = 0; i < n; ++i) {
        a[i * n + 3] = 0.0;
        a[i * n + 6] = a[i * n + 1];
    }
    Matrix r(n * n);
    la::nearest_orthogonal(a.data(), n, r.data());
    CHECK(orthonormality_error(r, n) < 1e-12);
}

TEST_CASE("nearest_orthogonal may work in place") {
    const std::size_t n = 9;
    const Matrix a = random_matrix(n, 91);
    Matrix expected(n * n);
    la::nearest_orthogonal(a.data(), n, expected.data());
    Matrix in_place = a;
    la::nearest_orthogonal(in_place.data(), n, in_place.data());
    CHECK(bitwise_equal(expected, in_place));
}

TEST_CASE("invalid input throws std::invalid_argument, oversized input std::length_error") {
    double m[4] = {1.0, 0.0, 0.0, 1.0};
    double out_matrix[4];
    double out_vector[2];

    CHECK_THROWS_AS(la::symmetric_eigen(m, 0, out_vector, out_matrix), std::invalid_argument);
    CHECK_THROWS_AS(la::symmetric_eigen(nullptr, 2, out_vector, out_matrix), std::invalid_argument);
    CHECK_THROWS_AS(la::symmetric_eigen(m, 2, nullptr, out_matrix), std::invalid_argument);
    CHECK_THROWS_AS(la::symmetric_eigen(m, 2, out_vector, nullptr), std::invalid_argument);

    CHECK_THROWS_AS(la::nearest_orthogonal(m, 0, out_matrix), std::invalid_argument);
    CHECK_THROWS_AS(la::nearest_orthogonal(nullptr, 2, out_matrix), std::invalid_argument);
    CHECK_THROWS_AS(la::nearest_orthogonal(m, 2, nullptr), std::invalid_argument);

    // Sizes whose element count overflows size_t are refused before any access.
    const std::size_t huge = std::size_t{1} << (std::numeric_limits<std::size_t>::digits / 2 + 1);
    CHECK_THROWS_AS(la::symmetric_eigen(m, huge, out_vector, out_matrix), std::length_error);
    CHECK_THROWS_AS(la::nearest_orthogonal(m, huge, out_matrix), std::length_error);

    // Non-finite entries would keep Jacobi from converging.
    double with_nan[4] = {1.0, std::numeric_limits<double>::quiet_NaN(), 0.0, 1.0};
    double with_inf[4] = {1.0, 0.0, 0.0, std::numeric_limits<double>::infinity()};
    CHECK_THROWS_AS(la::symmetric_eigen(with_nan, 2, out_vector, out_matrix), std::invalid_argument);
    CHECK_THROWS_AS(la::symmetric_eigen(with_inf, 2, out_vector, out_matrix), std::invalid_argument);
    CHECK_THROWS_AS(la::nearest_orthogonal(with_nan, 2, out_matrix), std::invalid_argument);
    CHECK_THROWS_AS(la::nearest_orthogonal(with_inf, 2, out_matrix), std::invalid_argument);
}

TEST_CASE("results are deterministic (bitwise equal across calls)") {
    const std::size_t n = 64;
    const Matrix a = random_matrix(n, 111);
    const Matrix s = random_symmetric(n, 112);

    const Eigen eigen_first = eigen_of(s, n);
    const Eigen eigen_second = eigen_of(s, n);
    CHECK(bitwise_equal(eigen_first.values, eigen_second.values));
    CHECK(bitwise_equal(eigen_first.vectors, eigen_second.vectors));

    const Svd svd_first = svd_of(a, n);
    const Svd svd_second = svd_of(a, n);
    CHECK(bitwise_equal(svd_first.u, svd_second.u));
    CHECK(bitwise_equal(svd_first.singular_values, svd_second.singular_values));
    CHECK(bitwise_equal(svd_first.v, svd_second.v));

    Matrix r_first(n * n);
    Matrix r_second(n * n);
    la::nearest_orthogonal(a.data(), n, r_first.data());
    la::nearest_orthogonal(a.data(), n, r_second.data());
    CHECK(bitwise_equal(r_first, r_second));
}
