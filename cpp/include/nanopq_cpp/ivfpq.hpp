#pragma once
/// @file
/// A residual IVF-PQ index (Jegou, Douze and Schmid, "Product quantization
/// for nearest neighbor search", TPAMI 2011, section IV; faiss's
/// IndexIVFPQ): vectors are grouped by their nearest coarse centroid, and
/// each is stored as the PQ code of its residual to that centroid, which PQ
/// encodes far more finely than the vector itself.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "codes.hpp"
#include "common.hpp"
#include "impl/inverted_lists.hpp"
#include "impl/ivf_scan.hpp"
#include "impl/kmeans.hpp"
#include "impl/random.hpp"
#include "quantizer.hpp"

namespace nanopq_cpp {

/// How IVFPQ::train trains.
struct IVFPQTrainingOptions {
    std::size_t iterations = 20;  ///< k-means iterations of each subspace of the PQ
    /// k-means iterations of the coarse centroids: 10, as faiss's IVF
    /// indexes, as a list's exact place matters little to the search and
    /// this k-means is the costliest step of training.
    std::size_t coarse_iterations = 10;
    std::uint64_t seed = 123;  ///< seeds the samples and the k-means starts
    /// Training vectors a coarse centroid: the coarse k-means runs on a
    /// sample of at most this many times nlist vectors (faiss's default too).
    std::size_t sample_per_list = 256;
    /// Training residuals a codeword: the PQ trains on at most this many
    /// times Ks of them (faiss's default too).
    std::size_t sample_per_codeword = 256;
    Logger log;  ///< progress lines; empty: silent
};

/// An inverted file of residual PQ codes with user ids (int64, distinct).
///
/// train() learns nlist coarse centroids, then a PQ on the residuals of
/// training vectors to their nearest centroid (on the vectors themselves
/// without `by_residual`). add() puts each vector in the list of its nearest
/// centroid (l2) as the code of its residual. search() ranks the centroids
/// by l2 distance (or inner product, for Metric::dot), probes the nprobe
/// best, and returns the exact top-k of their codes' ADC distances (see
/// impl/ivf_scan.hpp for the distance of a code in a list, to the bit).
class IVFPQ {
public:
    IVFPQ() = default;

    /// An untrained index of n_lists lists, codes of M subspaces of Ks
    /// codewords, compared by `metric`.
    IVFPQ(std::size_t n_subspaces, std::size_t n_codewords, std::size_t n_lists, Metric metric = Metric::l2,
          bool by_residual = true)
        : pq_(n_subspaces, n_codewords, metric), n_lists_(n_lists), by_residual_(by_residual) {
        require(n_lists > 0 && n_lists < impl::kNoList, "nlist must be in [1, 2**32 - 1)");
    }

    /// A trained, empty index from its parts: `pq` (fitted; its metric is the
    /// index's) and coarse centroids ([n_lists][pq.dim()]).
    IVFPQ(ProductQuantizer pq, std::vector<float> centroids, std::size_t n_lists, bool by_residual)
        : IVFPQ(pq.n_subspaces(), pq.n_codewords(), n_lists, pq.metric(), by_residual) {
        require(pq.is_fitted(), "the fine quantizer must be fitted");
        require(centroids.size() == checked_product(n_lists, pq.dim(), "coarse centroids"),
                "coarse centroids must hold nlist * D = " + std::to_string(n_lists * pq.dim()) + " floats, got " +
                    std::to_string(centroids.size()));
        detail::require_finite(centroids.data(), centroids.size(), "coarse centroids");
        detail::require_finite(pq.codewords().data(), pq.codewords().size(), "codewords");
        pq_ = std::move(pq);
        set_centroids(std::move(centroids));
    }

    /// M, the codes a vector.
    std::size_t n_subspaces() const { return pq_.n_subspaces(); }
    /// Ks, the codewords a subspace.
    std::size_t n_codewords() const { return pq_.n_codewords(); }
    /// The number of lists.
    std::size_t n_lists() const { return n_lists_; }
    /// D, the dimension of a vector (0 before training).
    std::size_t dim() const { return pq_.dim(); }
    /// The metric of the search.
    Metric metric() const { return pq_.metric(); }
    /// Whether codes are of residuals to the coarse centroids.
    bool by_residual() const { return by_residual_; }
    /// Whether train() (or the parts' constructor) has run.
    bool is_trained() const { return !centroids_.empty(); }
    /// The fine quantizer (of residuals).
    const ProductQuantizer& pq() const { return pq_; }
    /// The coarse centroids, [n_lists()][dim()].
    const std::vector<float>& centroids() const { return centroids_; }
    /// The number of vectors.
    std::size_t size() const { return sorted_ids_.size(); }
    /// The number of vectors in list `list`.
    std::size_t list_size(std::size_t list) const { return checked_list(list).rows.size(); }
    /// The ids in list `list`, in the order added.
    const std::vector<std::int64_t>& list_ids(std::size_t list) const { return checked_list(list).rows; }
    /// The codes in list `list`, [list_size(list)][M], in the order added.
    Codes list_codes(std::size_t list) const {
        const impl::IdList& entries = checked_list(list);
        const std::size_t n = entries.rows.size(), M = n_subspaces();
        Codes codes(n, M, pq_.code_bytes());
        if (pq_.code_bytes() != 1) {
            codes.visit([&](auto* data) { std::memcpy(data, entries.blocks.data(), entries.blocks.size()); });
            return codes;
        }
        // The last block is padded: taken as full blocks, every row is in one.
        impl::PackedCodesView packed{entries.blocks.data(), 0, M, n_codewords()};
        packed.n_rows = (n + packed.block_rows() - 1) / packed.block_rows() * packed.block_rows();
        impl::unpack_rows(packed, 0, n, codes.data<std::uint8_t>());
        return codes;
    }
    /// The id add() gives the next vector when no ids are given: one past the largest id, 0 when empty.
    std::int64_t next_id() const { return next_id_; }
    /// Sets next_id(), which must be past every id in the index (a restored index's).
    void set_next_id(std::int64_t next) {
        require(sorted_ids_.empty() || sorted_ids_.back() < next,
                "next id " + std::to_string(next) + " is not past id " + std::to_string(sorted_ids_.back()));
        next_id_ = next;
    }
    /// Threads for train(), add() and search(); 0 means the global setting.
    void set_num_threads(int num_threads) {
        require(num_threads >= 0, "num_threads must be >= 0");
        num_threads_ = num_threads;
        pq_.set_num_threads(num_threads);
    }

    /// Trains on n vectors ([n][dim]; dim a multiple of M, n >= nlist and
    /// n > Ks): the coarse centroids by k-means on a sample, then the PQ on
    /// the residuals of a sample. Only an empty index can be trained. The
    /// result depends on the data, the options and the seed only.
    IVFPQ& train(const float* vecs, std::size_t n, std::size_t dim, const IVFPQTrainingOptions& options = {}) {
        require(pq_.n_subspaces() > 0, "construct the index with M, Ks and nlist before train()");
        require(vecs != nullptr || n == 0, "training vectors are missing");
        subspace_dim_of(dim, n_subspaces());
        require(size() == 0, "only an empty index can be trained (it holds " + std::to_string(size()) + " vectors)");
        require(n >= n_lists_,
                "training needs at least nlist = " + std::to_string(n_lists_) + " vectors, got " + std::to_string(n));
        require(n > n_codewords(), "training needs more than Ks = " + std::to_string(n_codewords()) + " vectors, got " +
                                       std::to_string(n));
        require(options.iterations > 0, "iter must be positive");
        require(options.coarse_iterations > 0, "coarse_iter must be positive");
        detail::require_finite(vecs, checked_product(n, dim, "training vectors"), "training vectors");
        // One shuffle of the rows: the coarse sample is its head, the PQ's a (possibly other) head.
        impl::Random random(options.seed, 0);
        const std::size_t n_coarse = (std::min)(n, checked_product(n_lists_, options.sample_per_list, "sample"));
        const std::size_t n_fine = (std::min)(n, checked_product(n_codewords(), options.sample_per_codeword, "sample"));
        const std::size_t n_drawn = (std::max)(n_coarse, n_fine);
        std::vector<std::size_t> order(n);
        std::iota(order.begin(), order.end(), std::size_t{0});
        for (std::size_t i = 0; i < n_drawn && i + 1 < n; ++i) std::swap(order[i], order[i + random.below(n - i)]);
        std::vector<float> sample(checked_product(n_drawn, dim, "training sample"));
        for (std::size_t i = 0; i < n_drawn; ++i) std::copy_n(vecs + order[i] * dim, dim, sample.data() + i * dim);

        if (options.log)
            options.log("Training " + std::to_string(n_lists_) + " coarse centroids on " + std::to_string(n_coarse) +
                        " vectors");
        std::vector<float> centroids(n_lists_ * dim);
        impl::KMeansOptions kmeans_options;
        kmeans_options.iterations = options.coarse_iterations;
        kmeans_options.num_threads = num_threads_;
        impl::kmeans(sample.data(), n_coarse, dim, dim, n_lists_, kmeans_options, random, centroids.data());

        if (by_residual_) {
            std::vector<std::uint32_t> labels(n_fine);
            impl::kmeans_assign(sample.data(), n_fine, dim, dim, centroids.data(), n_lists_, labels.data(),
                                num_threads_);
            for (std::size_t i = 0; i < n_fine; ++i)
                for (std::size_t d = 0; d < dim; ++d) sample[i * dim + d] -= centroids[labels[i] * dim + d];
        }
        if (options.log)
            options.log("Training the PQ on " + std::to_string(n_fine) + (by_residual_ ? " residuals" : " vectors"));
        PQTrainingOptions pq_options;
        pq_options.iterations = options.iterations;
        pq_options.seed = options.seed;
        // A reference to the caller's logger, not a copy: a copy of a logger
        // that holds a Python callable would touch its reference count
        // without the GIL, which the bindings release here.
        if (options.log) pq_options.log = [&log = options.log](const std::string& line) { log(line); };
        pq_.fit(sample.data(), n_fine, dim, pq_options);
        set_centroids(std::move(centroids));
        return *this;
    }

    /// Adds n vectors ([n][dim()]) with `ids` (n distinct ids not in the
    /// index), or next_id(), next_id() + 1, ... when ids is null. Leaves the
    /// index as it was on a throw.
    void add(const float* vecs, std::size_t n, const std::int64_t* ids = nullptr, const Logger& log = {}) {
        require_trained("add");
        require(vecs != nullptr || n == 0, "add needs vectors");
        const std::size_t D = dim();
        detail::require_finite(vecs, checked_product(n, D, "vectors"), "vectors");
        const std::vector<std::int64_t> added = checked_new_ids(ids, n);
        std::vector<std::uint32_t> labels(n);
        Codes codes(n, n_subspaces(), pq_.code_bytes());
        // Residuals a chunk at a time: memory stays at the codes' size.
        const std::size_t chunk = 65536;
        std::vector<float> residuals;
        for (std::size_t first = 0; first < n; first += chunk) {
            const std::size_t count = (std::min)(chunk, n - first);
            const float* rows = vecs + first * D;
            impl::kmeans_assign(rows, count, D, D, centroids_.data(), n_lists_, labels.data() + first, num_threads_);
            if (by_residual_) {
                residuals.resize(count * D);
                for (std::size_t i = 0; i < count; ++i) {
                    const float* centroid = centroids_.data() + labels[first + i] * D;
                    for (std::size_t d = 0; d < D; ++d) residuals[i * D + d] = rows[i * D + d] - centroid[d];
                }
                rows = residuals.data();
            }
            codes.visit([&](auto* data) { pq_.encode(rows, count, data + first * n_subspaces()); });
            if (log) log("Added " + std::to_string(first + count) + " / " + std::to_string(n) + " vectors");
        }
        append(codes, labels.data(), added);
    }

    /// Adds n vectors already encoded: their lists (< nlist), codes ([n][M],
    /// each < Ks, of residuals when by_residual()) and ids (null: next_id()
    /// on). Checks all of them; leaves the index as it was on a throw.
    void add_encoded(const std::uint32_t* lists, const Codes& codes, const std::int64_t* ids = nullptr) {
        require_trained("add_encoded");
        const std::size_t n = codes.rows();
        require(n == 0 || lists != nullptr, "add_encoded needs the lists of the codes");
        require(codes.n_subspaces() == n_subspaces(), "codes must have M = " + std::to_string(n_subspaces()) +
                                                          " columns, got " + std::to_string(codes.n_subspaces()));
        require(codes.code_bytes() == pq_.code_bytes(), "codes must be of " + std::to_string(pq_.code_bytes()) +
                                                            "-byte integers for Ks = " + std::to_string(n_codewords()));
        codes.visit([&](const auto* data) { check_codes(data, n, n_subspaces(), n_codewords()); });
        for (std::size_t i = 0; i < n; ++i)
            if (lists[i] >= n_lists_)
                throw std::out_of_range("list of code " + std::to_string(i) + " is " + std::to_string(lists[i]) +
                                        ", not below nlist = " + std::to_string(n_lists_));
        append(codes, lists, checked_new_ids(ids, n));
    }

    /// Deletes the vectors of `ids` (distinct ids in the index); the other
    /// vectors keep their lists and order.
    void remove(const std::int64_t* ids, std::size_t n) {
        require(n == 0 || ids != nullptr, "remove needs ids");
        std::vector<std::int64_t> gone(ids, ids + n);
        std::sort(gone.begin(), gone.end());
        for (std::size_t j = 0; j < n; ++j)
            if (!std::binary_search(sorted_ids_.begin(), sorted_ids_.end(), ids[j]))
                throw std::out_of_range("ids[" + std::to_string(j) + "] = " + std::to_string(ids[j]) +
                                        " is not an id in the index");
        const auto repeated = std::adjacent_find(gone.begin(), gone.end());
        if (repeated != gone.end())
            throw std::invalid_argument("ids holds " + std::to_string(*repeated) + " more than once");
        const auto is_gone = [&](std::int64_t id) { return std::binary_search(gone.begin(), gone.end(), id); };
        for (std::size_t l = 0; l < n_lists_ && n > 0; ++l) {
            if (std::none_of(lists_[l].rows.begin(), lists_[l].rows.end(), is_gone)) continue;
            const Codes codes = list_codes(l);
            const std::vector<std::int64_t> old_ids = lists_[l].rows;
            lists_[l] = impl::IdList{};
            codes.visit([&](const auto* data) {
                for (std::size_t j = 0; j < old_ids.size(); ++j)
                    if (!is_gone(old_ids[j])) append_one(l, old_ids[j], data + j * n_subspaces());
            });
        }
        std::vector<std::int64_t> kept;
        kept.reserve(sorted_ids_.size() - n);
        std::set_difference(sorted_ids_.begin(), sorted_ids_.end(), gone.begin(), gone.end(), std::back_inserter(kept));
        sorted_ids_ = std::move(kept);
    }

    /// Removes every vector; keeps the training.
    void clear() {
        for (impl::IdList& list : lists_) list = impl::IdList{};
        sorted_ids_.clear();
        next_id_ = 0;
    }

    /// The k best ids for each of n_queries queries ([q][dim()]) among the
    /// vectors of the nprobe lists nearest to the query (nprobe >= 1; more
    /// than nlist probes them all), and among the ids of `subset` only when
    /// it is given (ids not in the index are ignored). Best first; empty
    /// slots hold id -1. Exact within the probed lists (impl/ivf_scan.hpp).
    SearchResult search(const float* queries, std::size_t n_queries, std::size_t k, std::size_t nprobe,
                        const std::int64_t* subset = nullptr, std::size_t n_subset = 0) const {
        require_trained("search");
        require(k > 0, "topk must be positive");
        require(nprobe > 0, "nprobe must be positive");
        require(n_queries == 0 || queries != nullptr, "search needs queries");
        require(n_subset == 0 || subset != nullptr, "subset ids are missing");
        detail::require_finite(queries, checked_product(n_queries, dim(), "queries"), "queries");
        std::vector<std::int64_t> sorted_subset(subset, subset + n_subset);
        std::sort(sorted_subset.begin(), sorted_subset.end());
        impl::IdFilter wanted;
        if (subset) wanted = impl::IdFilter{sorted_subset.data(), sorted_subset.size()};
        SearchResult result;
        result.n_queries = n_queries;
        result.k = k;
        result.ids.resize(checked_product(n_queries, k, "search results"));
        result.distances.resize(result.ids.size());
        impl::search_ivf(view(), queries, n_queries, k, (std::min)(nprobe, n_lists_), wanted, result.ids.data(),
                         result.distances.data(), num_threads_);
        return result;
    }

private:
    void require_trained(const char* what) const {
        if (!is_trained()) throw std::logic_error(std::string("the index must be trained (fit) before ") + what);
    }

    const impl::IdList& checked_list(std::size_t list) const {
        if (list >= lists_.size())
            throw std::out_of_range("list " + std::to_string(list) + " is not one of the " +
                                    std::to_string(lists_.size()) + " lists");
        return lists_[list];
    }

    void set_centroids(std::vector<float> centroids) {
        centroids_ = std::move(centroids);
        coarse_ = impl::CoarseCenters(centroids_.data(), n_lists_, dim());
        maker_ = impl::TableMaker(pq_.codebook(), pq_.metric());
        lists_.assign(n_lists_, impl::IdList{});
    }

    impl::IvfView view() const {
        impl::IvfView view;
        view.n_subspaces = n_subspaces();
        view.n_codewords = n_codewords();
        view.code_bytes = pq_.code_bytes();
        view.dim = dim();
        view.metric = metric();
        view.by_residual = by_residual_;
        view.coarse = &coarse_;
        view.centroids = centroids_.data();
        view.lists = lists_.data();
        view.n_lists = n_lists_;
        view.maker = &maker_;
        return view;
    }

    // The ids of n new vectors: `ids` checked (distinct, not in the index), or the next ones.
    std::vector<std::int64_t> checked_new_ids(const std::int64_t* ids, std::size_t n) const {
        return impl::ids_to_add(ids, n, next_id_, [&](std::int64_t id) {
            return std::binary_search(sorted_ids_.begin(), sorted_ids_.end(), id);
        });
    }

    // Appends checked codes, lists and ids.
    void append(const Codes& codes, const std::uint32_t* lists, const std::vector<std::int64_t>& ids) {
        const std::size_t n = ids.size();
        std::vector<std::int64_t> sorted(ids);
        std::sort(sorted.begin(), sorted.end());
        std::vector<std::int64_t> merged(sorted_ids_.size() + n);  // may throw: nothing changed yet
        std::merge(sorted_ids_.begin(), sorted_ids_.end(), sorted.begin(), sorted.end(), merged.begin());
        codes.visit([&](const auto* data) {
            for (std::size_t i = 0; i < n; ++i) append_one(lists[i], ids[i], data + i * n_subspaces());
        });
        sorted_ids_ = std::move(merged);
        if (n > 0) next_id_ = (std::max)(next_id_, sorted_ids_.back() + 1);
    }

    template <class code_t>
    void append_one(std::size_t list, std::int64_t id, const code_t* code) {
        const std::size_t M = n_subspaces();
        impl::IdList& entries = lists_[list];
        // A search names an entry by its list and place (impl/ivf_scan.hpp): 32 bits a place.
        if (entries.rows.size() >= (std::size_t{1} << impl::kPlaceBits) - 1)
            throw std::length_error("list " + std::to_string(list) + " is full (2**32 - 1 vectors)");
        if constexpr (sizeof(code_t) == 1) {
            impl::with_layout(n_codewords(), [&](auto layout) { impl::append_to_list(layout, entries, id, code, M); });
        } else {
            entries.rows.push_back(id);
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(code);
            entries.blocks.insert(entries.blocks.end(), bytes, bytes + M * sizeof(code_t));
        }
    }

    ProductQuantizer pq_;
    std::size_t n_lists_ = 0;
    bool by_residual_ = true;
    int num_threads_ = 0;
    std::vector<float> centroids_;
    impl::CoarseCenters coarse_;
    impl::TableMaker maker_;
    std::vector<impl::IdList> lists_;
    std::vector<std::int64_t> sorted_ids_;
    std::int64_t next_id_ = 0;
};

}  // namespace nanopq_cpp
