#pragma once
/// @file
/// The object API for native users: ProductQuantizer and OptimizedProductQuantizer
/// hold a trained model (M, Ks, Ds, metric, codewords [+ rotation]) and offer
/// nanopq's operations on plain pointers and std::vector. They are thin: every
/// method calls the engine functions of impl/pq.hpp, impl/adc.hpp and impl/opq.hpp that the Python
/// module calls, so given the same codewords (e.g. a model file written by
/// Python's `pq.save(path)`) they give the same codes, tables, distances and
/// neighbours as nanopq_cpp.PQ / nanopq_cpp.OPQ.
///
///     #include <nanopq_cpp/nanopq_cpp.hpp>
///
///     nanopq_cpp::ProductQuantizer pq(/*M=*/8, /*Ks=*/256);
///     pq.fit(train.data(), n_train, dim);                  // seed 123, 20 iterations
///     nanopq_cpp::Codes codes = pq.encode(base.data(), n_base);   // uint8, as Ks <= 256
///     nanopq_cpp::SearchResult top = pq.search(query.data(), 1, codes, /*k=*/10);
///     // top.ids[j], top.distances[j]: the j-th nearest code, best first
///
/// Vectors are row-major float32: n vectors of dim() floats, one after another.
/// Codes are row-major too: n rows of M codes, each in the narrowest of
/// uint8/uint16/uint32 that holds Ks values (nanopq's code_dtype).
///
/// Threads: each object uses `num_threads()` threads per call (0, the default,
/// means the global nanopq_cpp::get_num_threads()). Results do not depend on it.
/// A const object may be used from several threads at once.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "impl/adc.hpp"
#include "codes.hpp"
#include "common.hpp"
#include "impl/fast_scan.hpp"
#include "impl/kmeans.hpp"
#include "impl/opq.hpp"
#include "packed_codes.hpp"
#include "impl/pq.hpp"
#include "impl/threading.hpp"

namespace nanopq_cpp {

namespace detail {

/// Training data with NaN or infinity would give NaN codewords that silently
/// encode everything to code 0; refuse it, naming the first bad value.
inline void require_finite(const float* values, std::size_t count, const char* what) {
    for (std::size_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i]))
            throw std::invalid_argument(std::string(what) + " contain NaN or infinity (at flat index " +
                                        std::to_string(i) + ")");
}

}  // namespace detail

/// PQ codes of `rows()` vectors, `n_subspaces()` codes per vector, stored as
/// uint8, uint16 or uint32 (`code_bytes()` = 1, 2 or 4). A std::variant of typed
/// vectors rather than raw bytes, so that reading uint16 codes never goes
/// through a pointer of another type.
class Codes {
public:
    Codes() = default;

    /// Zero codes for n_rows vectors; code_bytes is 1, 2 or 4 (see code_bytes_for).
    Codes(std::size_t n_rows, std::size_t n_subspaces, std::size_t code_bytes)
        : n_rows_(n_rows), n_subspaces_(n_subspaces) {
        const std::size_t count = checked_product(n_rows, n_subspaces, "codes");
        switch (code_bytes) {
            case 1: storage_ = std::vector<std::uint8_t>(count); break;
            case 2: storage_ = std::vector<std::uint16_t>(count); break;
            case 4: storage_ = std::vector<std::uint32_t>(count); break;
            default: throw std::invalid_argument("codes are 1, 2 or 4 bytes wide, got " + std::to_string(code_bytes));
        }
    }

    /// The number of rows (vectors).
    std::size_t rows() const { return n_rows_; }
    /// M, the number of subspaces.
    std::size_t n_subspaces() const { return n_subspaces_; }
    /// rows() * n_subspaces(): the number of codes.
    std::size_t size() const { return n_rows_ * n_subspaces_; }
    /// Bytes a code takes: 1, 2 or 4 (uint8, uint16 or uint32), from Ks.
    std::size_t code_bytes() const {
        return std::visit([](const auto& values) { return sizeof(values[0]); }, storage_);
    }

    /// The codes as code_t ([rows][M]); throws std::invalid_argument unless
    /// sizeof(code_t) == code_bytes().
    template <class code_t>
    const code_t* data() const {
        return typed<code_t>(storage_, code_bytes()).data();
    }
    template <class code_t>
    /// @overload
    code_t* data() {
        return typed<code_t>(storage_, code_bytes()).data();
    }

    /// The code of vector `row` in subspace `subspace`, bounds-checked.
    std::uint32_t at(std::size_t row, std::size_t subspace) const {
        if (row >= n_rows_ || subspace >= n_subspaces_)
            throw std::out_of_range("code (" + std::to_string(row) + ", " + std::to_string(subspace) +
                                    ") is outside codes of shape (" + std::to_string(n_rows_) + ", " +
                                    std::to_string(n_subspaces_) + ")");
        return std::visit([&](const auto& values) { return std::uint32_t{values[row * n_subspaces_ + subspace]}; },
                          storage_);
    }

    /// Calls body(const code_t* codes) with the codes in their stored type, and
    /// returns what body returns: the one place where the width becomes a type.
    template <class Body>
    decltype(auto) visit(Body&& body) const {
        return std::visit([&](const auto& values) -> decltype(auto) { return body(values.data()); }, storage_);
    }
    template <class Body>
    /// @overload
    decltype(auto) visit(Body&& body) {
        return std::visit([&](auto& values) -> decltype(auto) { return body(values.data()); }, storage_);
    }

private:
    /// The typed vector in `storage` (const or not), or an error naming both widths.
    template <class code_t, class Storage>
    static auto& typed(Storage& storage, std::size_t stored_bytes) {
        static_assert(std::is_same<code_t, std::uint8_t>::value || std::is_same<code_t, std::uint16_t>::value ||
                          std::is_same<code_t, std::uint32_t>::value,
                      "codes are std::uint8_t, std::uint16_t or std::uint32_t");
        auto* values = std::get_if<std::vector<code_t>>(&storage);
        if (!values)
            throw std::invalid_argument("these codes are " + std::to_string(stored_bytes) + " bytes wide, not " +
                                        std::to_string(sizeof(code_t)));
        return *values;
    }

    std::variant<std::vector<std::uint8_t>, std::vector<std::uint16_t>, std::vector<std::uint32_t>> storage_;
    std::size_t n_rows_ = 0;
    std::size_t n_subspaces_ = 0;
};

/// Codes of Ks <= 256 codewords packed for the fast scan (packed_codes.hpp).
/// Throws std::out_of_range for a code >= Ks.
inline PackedCodes pack(const Codes& codes, std::size_t n_codewords) {
    return codes.visit([&](const auto* data) {
        return PackedCodes::from_codes(data, codes.rows(), codes.n_subspaces(), n_codewords);
    });
}

/// Distance tables of n_queries queries ([q][M][Ks]): entry (q, m, k) is the
/// squared l2 distance (or inner product) between query q's m-th sub-vector and
/// codeword k of subspace m. Made by ProductQuantizer::dtable; the asymmetric
/// distance of a code is the sum of its M table entries (nanopq's DistanceTable).
class DistanceTables {
public:
    /// Tables made elsewhere: n_queries tables of M x Ks floats in `values`, row-major.
    DistanceTables(std::vector<float> values, std::size_t n_queries, std::size_t n_subspaces, std::size_t n_codewords,
                   Metric metric, int num_threads = 0)
        : values_(std::move(values)),
          n_queries_(n_queries),
          n_subspaces_(n_subspaces),
          n_codewords_(n_codewords),
          metric_(metric),
          num_threads_(num_threads) {
        require(n_subspaces > 0 && n_codewords > 0, "distance tables need M > 0 and Ks > 0");
        const std::size_t expected =
            checked_product(checked_product(n_queries, n_subspaces, "tables"), n_codewords, "tables");
        require(values_.size() == expected, "distance tables must hold n_queries * M * Ks values");
    }

    /// The number of queries.
    std::size_t n_queries() const { return n_queries_; }
    /// M, the number of subspaces.
    std::size_t n_subspaces() const { return n_subspaces_; }
    /// Ks, the number of codewords a subspace.
    std::size_t n_codewords() const { return n_codewords_; }
    /// The metric of distances and search.
    Metric metric() const { return metric_; }
    /// Every table, [n_queries][M][Ks], row-major.
    const std::vector<float>& values() const { return values_; }
    /// The M x Ks table of query q.
    const float* table(std::size_t q) const {
        if (q >= n_queries_) throw std::out_of_range("query " + std::to_string(q) + " has no table");
        return values_.data() + q * n_subspaces_ * n_codewords_;
    }

    /// out[q * n + i]: asymmetric distance from query q to code row i of `codes`
    /// ([n][M]). Throws std::out_of_range for a code >= Ks.
    template <class code_t>
    void adist(const code_t* codes, std::size_t n, float* out) const {
        impl::adist(values_.data(), n_queries_, n_subspaces_, n_codewords_, codes, n, out, num_threads_);
    }
    /// @overload
    std::vector<float> adist(const Codes& codes) const {
        check_columns(codes);
        std::vector<float> out(checked_product(n_queries_, codes.rows(), "distances"));
        codes.visit([&](const auto* data) { adist(data, codes.rows(), out.data()); });
        return out;
    }

    /// The k best rows of `codes` for each query, optionally among the row ids
    /// `subset` (n_subset of them). Ties go to the lower id.
    template <class code_t>
    SearchResult search(const code_t* codes, std::size_t n, std::size_t k, const std::int64_t* subset = nullptr,
                        std::size_t n_subset = 0) const {
        SearchResult result;
        result.n_queries = n_queries_;
        result.k = k;
        result.ids.resize(checked_product(n_queries_, k, "search results"));
        result.distances.resize(result.ids.size());
        impl::search(values_.data(), n_queries_, n_subspaces_, n_codewords_, codes, n, k, metric_, subset, n_subset,
                     result.ids.data(), result.distances.data(), num_threads_);
        return result;
    }
    /// @overload
    SearchResult search(const Codes& codes, std::size_t k, const std::int64_t* subset = nullptr,
                        std::size_t n_subset = 0) const {
        check_columns(codes);
        return codes.visit([&](const auto* data) { return search(data, codes.rows(), k, subset, n_subset); });
    }

    /// The same search over packed codes (ProductQuantizer::pack), by the fast
    /// scan where this CPU has a kernel for the code width: the same ids and
    /// distances as searching the unpacked codes.
    SearchResult search(const PackedCodes& codes, std::size_t k, const std::int64_t* subset = nullptr,
                        std::size_t n_subset = 0) const {
        check_packed(codes);
        SearchResult result;
        result.n_queries = n_queries_;
        result.k = k;
        result.ids.resize(checked_product(n_queries_, k, "search results"));
        result.distances.resize(result.ids.size());
        impl::search_packed(values_.data(), n_queries_, codes.view(), k, metric_, subset, n_subset, result.ids.data(),
                            result.distances.data(), num_threads_);
        return result;
    }
    /// Distances to every row of packed codes, as adist() of the unpacked codes.
    std::vector<float> adist(const PackedCodes& codes) const {
        check_packed(codes);
        std::vector<float> out(checked_product(n_queries_, codes.rows(), "distances"));
        impl::adist_packed(values_.data(), n_queries_, codes.view(), out.data(), num_threads_);
        return out;
    }

private:
    void check_packed(const PackedCodes& codes) const {
        if (codes.n_subspaces() != n_subspaces_ || codes.n_codewords() != n_codewords_)
            throw std::invalid_argument("packed codes have M = " + std::to_string(codes.n_subspaces()) +
                                        ", Ks = " + std::to_string(codes.n_codewords()) + " but the tables have M = " +
                                        std::to_string(n_subspaces_) + ", Ks = " + std::to_string(n_codewords_));
    }
    void check_columns(const Codes& codes) const {
        if (codes.n_subspaces() != n_subspaces_)
            throw std::invalid_argument("codes have " + std::to_string(codes.n_subspaces()) +
                                        " columns but the tables have M = " + std::to_string(n_subspaces_));
    }

    std::vector<float> values_;
    std::size_t n_queries_, n_subspaces_, n_codewords_;
    Metric metric_;
    int num_threads_;
};

/// What both quantizers offer through their distance tables, written once:
/// a Quantizer (ProductQuantizer or OptimizedProductQuantizer) derives from
/// QueryShorthands<Quantizer> and has dtable().
template <class Quantizer>
class QueryShorthands {
public:
    /// Asymmetric distances from one query to every code row: dtable(query).adist(codes).
    std::vector<float> adist(const float* query, const Codes& codes) const {
        return self().dtable(query, 1).adist(codes);
    }
    /// The k nearest code rows of each query: dtable(queries).search(codes, k, subset).
    SearchResult search(const float* queries, std::size_t n_queries, const Codes& codes, std::size_t k,
                        const std::int64_t* subset = nullptr, std::size_t n_subset = 0) const {
        return self().dtable(queries, n_queries).search(codes, k, subset, n_subset);
    }
    /// @overload
    SearchResult search(const float* queries, std::size_t n_queries, const PackedCodes& codes, std::size_t k,
                        const std::int64_t* subset = nullptr, std::size_t n_subset = 0) const {
        return self().dtable(queries, n_queries).search(codes, k, subset, n_subset);
    }

private:
    const Quantizer& self() const { return static_cast<const Quantizer&>(*this); }
};

/// Product quantization (Jegou et al., TPAMI 2011): a D-dim vector is split into
/// M sub-vectors of Ds = D / M dims, each replaced by the index of its nearest
/// of Ks codewords. The C++ twin of nanopq_cpp.PQ.
class ProductQuantizer : public QueryShorthands<ProductQuantizer> {
public:
    /// An empty quantizer, to be assigned (e.g. from load_pq) before use.
    ProductQuantizer() = default;

    /// An untrained quantizer of M subspaces and Ks codewords each; call fit().
    explicit ProductQuantizer(std::size_t n_subspaces, std::size_t n_codewords = 256, Metric metric = Metric::l2)
        : n_subspaces_(n_subspaces), n_codewords_(n_codewords), metric_(metric) {
        require(n_subspaces > 0, "M must be positive");
        require(n_codewords > 0 && static_cast<unsigned long long>(n_codewords) <= (1ULL << 32),
                "Ks must be in [1, 2**32]");
    }

    /// A trained quantizer from codewords made elsewhere ([M][Ks][Ds], as
    /// nanopq's PQ.codewords, or faiss's ProductQuantizer centroids).
    ProductQuantizer(std::size_t n_subspaces, std::size_t n_codewords, std::size_t subspace_dim,
                     std::vector<float> codewords, Metric metric = Metric::l2)
        : ProductQuantizer(n_subspaces, n_codewords, metric) {
        require(subspace_dim > 0, "Ds must be positive");
        const std::size_t expected =
            checked_product(checked_product(n_subspaces, n_codewords, "codewords"), subspace_dim, "codewords");
        require(codewords.size() == expected, "codewords must hold M * Ks * Ds = " + std::to_string(expected) +
                                                  " floats, got " + std::to_string(codewords.size()));
        subspace_dim_ = subspace_dim;
        codewords_ = std::move(codewords);
    }

    /// Trains the codewords by k-means in each subspace on n vectors of `dim`
    /// floats (dim a multiple of M, n > Ks as nanopq asks). The result depends
    /// on the data, the options and the seed only, and equals what Python's
    /// PQ(M, Ks).fit(vecs, iter, seed, minit) gives for the same arguments.
    ProductQuantizer& fit(const float* vecs, std::size_t n, std::size_t dim, const PQTrainingOptions& options = {}) {
        require(n_subspaces_ > 0, "construct the quantizer with M and Ks before fit()");
        require(vecs != nullptr, "training vectors are missing");
        subspace_dim_of(dim, n_subspaces_);
        require(n > n_codewords_, "the number of training vectors (n = " + std::to_string(n) +
                                      ") should be more than Ks = " + std::to_string(n_codewords_));
        require(options.iterations > 0, "iterations must be positive");
        detail::require_finite(vecs, checked_product(n, dim, "training vectors"), "training vectors");
        impl::KMeansOptions kmeans_options;
        kmeans_options.iterations = options.iterations;
        kmeans_options.init = options.init;
        kmeans_options.num_threads = num_threads_;
        codewords_ = impl::train_codewords(vecs, n, dim, n_subspaces_, n_codewords_, kmeans_options, options.seed,
                                           options.initial_codewords, options.log);
        subspace_dim_ = dim / n_subspaces_;
        return *this;
    }

    /// True once fit() ran, or codewords were given.
    bool is_fitted() const { return !codewords_.empty(); }
    /// M, the number of subspaces.
    std::size_t n_subspaces() const { return n_subspaces_; }  // M
    /// Ks, the number of codewords a subspace.
    std::size_t n_codewords() const { return n_codewords_; }  // Ks
    /// Ds = D / M.
    std::size_t subspace_dim() const { return subspace_dim_; }  // Ds (0 before fit)
    /// D, the length of a vector.
    std::size_t dim() const { return n_subspaces_ * subspace_dim_; }
    /// The metric of distances and search.
    Metric metric() const { return metric_; }
    /// Bytes a code takes: 1, 2 or 4 (uint8, uint16 or uint32), from Ks.
    std::size_t code_bytes() const { return code_bytes_for(n_codewords_); }
    /// The codewords, [M][Ks][Ds] row-major, as nanopq's `codewords`.
    const std::vector<float>& codewords() const { return codewords_; }  // [M][Ks][Ds]
    /// The codewords as the engine reads them (an internal type).
    impl::CodebookView codebook() const {
        require_fitted();
        return impl::CodebookView{codewords_.data(), n_subspaces_, n_codewords_, subspace_dim_};
    }

    /// Threads a call uses; 0 means the global get_num_threads().
    int num_threads() const { return num_threads_; }
    /// Sets num_threads(); results do not depend on it.
    void set_num_threads(int num_threads) {
        require(num_threads >= 0, "num_threads must be >= 0 (0 means the global setting)");
        num_threads_ = num_threads;
    }

    /// Codes of n vectors ([n][dim()]) written to codes ([n][M]). code_t may be
    /// any unsigned type that holds Ks - 1.
    template <class code_t>
    void encode(const float* vecs, std::size_t n, code_t* codes) const {
        impl::encode(vecs, n, codebook(), codes, num_threads_);
    }
    /// The same, into new codes of width code_bytes().
    Codes encode(const float* vecs, std::size_t n) const {
        require_fitted();
        Codes codes(n, n_subspaces_, code_bytes());
        codes.visit([&](auto* data) { encode(vecs, n, data); });
        return codes;
    }

    /// Approximate vectors ([n][dim()]) from codes ([n][M]); throws
    /// std::out_of_range for a code >= Ks.
    template <class code_t>
    void decode(const code_t* codes, std::size_t n, float* vecs) const {
        impl::decode(codes, n, codebook(), vecs, num_threads_);
    }
    /// @overload
    std::vector<float> decode(const Codes& codes) const {
        check_columns(codes);
        std::vector<float> vecs(checked_product(codes.rows(), dim(), "decoded vectors"));
        codes.visit([&](const auto* data) { decode(data, codes.rows(), vecs.data()); });
        return vecs;
    }

    /// The codes packed for the fast scan (Ks <= 256): dtable(q).search(packed, k)
    /// then gives what it gives for the codes themselves, faster. Needs no
    /// codewords, only M and Ks.
    PackedCodes pack(const Codes& codes) const {
        require(n_subspaces_ > 0, "construct the quantizer with M and Ks before pack()");
        if (codes.n_subspaces() != n_subspaces_)
            throw std::invalid_argument("codes have " + std::to_string(codes.n_subspaces()) +
                                        " columns but the quantizer has M = " + std::to_string(n_subspaces_));
        return nanopq_cpp::pack(codes, n_codewords_);
    }

    /// Distance tables of n_queries queries ([n_queries][dim()]).
    DistanceTables dtable(const float* queries, std::size_t n_queries = 1) const {
        const impl::CodebookView view = codebook();
        std::vector<float> values(
            checked_product(checked_product(n_queries, n_subspaces_, "tables"), n_codewords_, "tables"));
        impl::distance_tables(queries, n_queries, view, metric_, values.data(), num_threads_);
        return DistanceTables(std::move(values), n_queries, n_subspaces_, n_codewords_, metric_, num_threads_);
    }

private:
    void require_fitted() const {
        if (!is_fitted())
            throw std::logic_error("the ProductQuantizer has no codewords yet: call fit() or load a model first");
    }
    void check_columns(const Codes& codes) const {
        require_fitted();
        if (codes.n_subspaces() != n_subspaces_)
            throw std::invalid_argument("codes have " + std::to_string(codes.n_subspaces()) +
                                        " columns but the quantizer has M = " + std::to_string(n_subspaces_));
    }

    std::size_t n_subspaces_ = 0;
    std::size_t n_codewords_ = 0;
    std::size_t subspace_dim_ = 0;
    Metric metric_ = Metric::l2;
    std::vector<float> codewords_;
    int num_threads_ = 0;
};

/// Optimized product quantization (Ge et al., TPAMI 2014): vectors are rotated
/// by an orthogonal D x D matrix R (x_rotated = x R, R row-major) learned so that
/// a PQ of the rotated vectors loses less; then quantized by that PQ. The C++
/// twin of nanopq_cpp.OPQ.
///
/// fit() runs the same algorithm as Python's OPQ.fit, but Python computes some
/// of its matrix products with numpy (BLAS), which rounds differently, so the
/// trained R and codewords agree with Python's to rounding, not bit for bit.
/// Given the same R and codewords (a model file), codes agree except where a
/// rotated sub-vector is equidistant from two codewords to within float rounding.
class OptimizedProductQuantizer : public QueryShorthands<OptimizedProductQuantizer> {
public:
    OptimizedProductQuantizer() = default;

    /// An untrained OPQ of M subspaces and Ks codewords each; call fit().
    explicit OptimizedProductQuantizer(std::size_t n_subspaces, std::size_t n_codewords = 256,
                                       Metric metric = Metric::l2)
        : pq_(n_subspaces, n_codewords, metric) {}

    /// A trained OPQ from a rotation (dim x dim, row-major) and a trained PQ of
    /// rotated vectors, e.g. nanopq's OPQ.R and OPQ.pq.
    OptimizedProductQuantizer(std::vector<float> rotation, ProductQuantizer pq)
        : pq_(std::move(pq)), rotation_(std::move(rotation)) {
        require(pq_.is_fitted(), "the PQ of an OPQ must be trained");
        const std::size_t dim = pq_.dim();
        require(rotation_.size() == checked_product(dim, dim, "rotation"),
                "the rotation must be D x D = " + std::to_string(dim) + " x " + std::to_string(dim) + " floats, got " +
                    std::to_string(rotation_.size()));
    }

    /// Learns R and the codewords on n vectors of `dim` floats (n > Ks).
    OptimizedProductQuantizer& fit(const float* vecs, std::size_t n, std::size_t dim,
                                   const OPQTrainingOptions& options = {}) {
        const std::size_t M = pq_.n_subspaces(), Ks = pq_.n_codewords();
        require(M > 0, "construct the quantizer with M and Ks before fit()");
        require(vecs != nullptr, "training vectors are missing");
        subspace_dim_of(dim, M);
        require(n > Ks, "the number of training vectors (n = " + std::to_string(n) +
                            ") should be more than Ks = " + std::to_string(Ks));
        require(options.pq_iterations > 0 && options.rotation_iterations > 0,
                "pq_iterations and rotation_iterations must be positive");
        detail::require_finite(vecs, checked_product(n, dim, "training vectors"), "training vectors");
        OPQTrainingOptions with_threads = options;
        with_threads.num_threads = pq_.num_threads();
        impl::OPQModel model = impl::train_opq(vecs, n, dim, M, Ks, with_threads);
        ProductQuantizer trained(M, Ks, dim / M, std::move(model.codewords), pq_.metric());
        trained.set_num_threads(pq_.num_threads());
        pq_ = std::move(trained);
        rotation_ = std::move(model.rotation);
        return *this;
    }

    /// True once fit() ran, or codewords were given.
    bool is_fitted() const { return !rotation_.empty() && pq_.is_fitted(); }
    /// The product quantizer of the rotated vectors.
    const ProductQuantizer& pq() const { return pq_; }
    /// R, D x D, row-major: a vector x is encoded as the PQ codes of x R.
    const std::vector<float>& rotation() const { return rotation_; }  // R: dim x dim, row-major
    /// M, the number of subspaces.
    std::size_t n_subspaces() const { return pq_.n_subspaces(); }
    /// Ks, the number of codewords a subspace.
    std::size_t n_codewords() const { return pq_.n_codewords(); }
    /// Ds = D / M.
    std::size_t subspace_dim() const { return pq_.subspace_dim(); }
    /// D, the length of a vector.
    std::size_t dim() const { return pq_.dim(); }
    /// The metric of distances and search.
    Metric metric() const { return pq_.metric(); }
    /// Bytes a code takes: 1, 2 or 4 (uint8, uint16 or uint32), from Ks.
    std::size_t code_bytes() const { return pq_.code_bytes(); }
    /// The codewords, [M][Ks][Ds] row-major, as nanopq's `codewords`.
    const std::vector<float>& codewords() const { return pq_.codewords(); }

    /// Threads a call uses; 0 means the global get_num_threads().
    int num_threads() const { return pq_.num_threads(); }
    /// Sets num_threads(); results do not depend on it.
    void set_num_threads(int num_threads) { pq_.set_num_threads(num_threads); }

    /// out ([n][dim()]) = vecs R.
    void rotate(const float* vecs, std::size_t n, float* out) const {
        require_fitted();
        impl::rotate(vecs, n, dim(), rotation_.data(), out, pq_.num_threads());
    }
    /// @overload
    std::vector<float> rotate(const float* vecs, std::size_t n) const {
        std::vector<float> out(checked_product(n, dim(), "rotated vectors"));
        rotate(vecs, n, out.data());
        return out;
    }

    /// The codes of n vectors.
    template <class code_t>
    void encode(const float* vecs, std::size_t n, code_t* codes) const {
        pq_.encode(rotate(vecs, n).data(), n, codes);
    }
    /// @overload
    Codes encode(const float* vecs, std::size_t n) const { return pq_.encode(rotate(vecs, n).data(), n); }

    /// pq().decode(codes) R^T: R is orthogonal, so R^T undoes the rotation.
    template <class code_t>
    void decode(const code_t* codes, std::size_t n, float* vecs) const {
        require_fitted();
        std::vector<float> rotated(checked_product(n, dim(), "decoded vectors"));
        pq_.decode(codes, n, rotated.data());
        unrotate(rotated.data(), n, vecs);
    }
    /// @overload
    std::vector<float> decode(const Codes& codes) const {
        require_fitted();
        const std::vector<float> rotated = pq_.decode(codes);
        std::vector<float> vecs(rotated.size());
        unrotate(rotated.data(), codes.rows(), vecs.data());
        return vecs;
    }

    /// Distance tables of n_queries queries (rotated first).
    DistanceTables dtable(const float* queries, std::size_t n_queries = 1) const {
        return pq_.dtable(rotate(queries, n_queries).data(), n_queries);
    }
    /// The codes packed for the fast scan (Ks <= 256).
    PackedCodes pack(const Codes& codes) const { return pq_.pack(codes); }

private:
    void require_fitted() const {
        if (!is_fitted())
            throw std::logic_error(
                "the OptimizedProductQuantizer has no rotation and codewords yet: call fit() or load a model first");
    }
    void unrotate(const float* rotated, std::size_t n, float* out) const {
        const std::size_t D = dim();
        std::vector<float> transposed(D * D);
        for (std::size_t r = 0; r < D; ++r)
            for (std::size_t c = 0; c < D; ++c) transposed[c * D + r] = rotation_[r * D + c];
        impl::rotate(rotated, n, D, transposed.data(), out, pq_.num_threads());
    }

    ProductQuantizer pq_;
    std::vector<float> rotation_;
};

}  // namespace nanopq_cpp
