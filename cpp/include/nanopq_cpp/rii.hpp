#pragma once
/// @file
/// An inverted index over PQ codes with rii's design (Matsui, Hinami and
/// Satoh, "Reconfigurable Inverted Index", ACM MM 2018): the codes of the
/// vectors themselves, grouped in posting lists by coarse centers that are PQ
/// codes too, so the lists can be rebuilt (reconfigure()) from the codes
/// alone as data grows, and a subset of the ids can be searched fast.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "codes.hpp"
#include "common.hpp"
#include "impl/adc.hpp"
#include "impl/inverted_lists.hpp"
#include "impl/pq.hpp"
#include "impl/pq_kmeans.hpp"
#include "quantizer.hpp"

namespace nanopq_cpp {

/// How Rii::search finds the candidates of a query.
enum class RiiMethod {
    /// The exact scan of every row, or of the subset's rows.
    linear,
    /// The posting lists nearest to the query, until L candidates are found.
    ivf,
};

/// An inverted index over uint8 PQ codes (Ks <= 256) with user ids.
///
/// Rows are kept in the order they were added; each has a distinct int64 id.
/// After reconfigure(), each row added with `update_lists` is in the posting
/// list of its nearest coarse center. Searches take distance tables (from the
/// quantizer that made the codes) and return ids.
class Rii {
public:
    Rii() = default;

    /// An empty index for codes of `codewords` ([M][Ks][Ds] floats, Ks <= 256)
    /// compared by `metric`.
    Rii(std::vector<float> codewords, std::size_t n_subspaces, std::size_t n_codewords, std::size_t subspace_dim,
        Metric metric = Metric::l2)
        : codewords_(std::move(codewords)),
          n_subspaces_(n_subspaces),
          n_codewords_(n_codewords),
          subspace_dim_(subspace_dim),
          metric_(metric) {
        require(n_subspaces > 0 && subspace_dim > 0, "Rii needs M > 0 and Ds > 0");
        require(n_codewords > 0 && n_codewords <= 256,
                "Rii needs 1 <= Ks <= 256 (uint8 codes), got Ks = " + std::to_string(n_codewords));
        require(codewords_.size() ==
                    checked_product(checked_product(n_subspaces, n_codewords, "codewords"), subspace_dim, "codewords"),
                "codewords must hold M * Ks * Ds floats");
        detail::require_finite(codewords_.data(), codewords_.size(), "codewords");
        maker_ = impl::TableMaker(codebook(), metric_);
    }

    /// M, the codes a row.
    std::size_t n_subspaces() const { return n_subspaces_; }
    /// Ks, the codewords a subspace.
    std::size_t n_codewords() const { return n_codewords_; }
    /// Ds, the dimension of a subspace.
    std::size_t subspace_dim() const { return subspace_dim_; }
    /// The metric of the distance tables.
    Metric metric() const { return metric_; }
    /// D = M * Ds, the dimension of a query.
    std::size_t dim() const { return n_subspaces_ * subspace_dim_; }
    /// The codewords, [M][Ks][Ds].
    const std::vector<float>& codewords() const { return codewords_; }
    /// The number of rows.
    std::size_t size() const { return ids_.size(); }
    /// The number of posting lists (0 before reconfigure()).
    std::size_t n_lists() const { return lists_.size(); }
    /// The codes of every row, [size()][M], in the order added.
    const std::vector<std::uint8_t>& codes() const { return codes_; }
    /// The id of every row.
    const std::vector<std::int64_t>& ids() const { return ids_; }
    /// The coarse centers, [n_lists()][M] codes.
    const std::vector<std::uint8_t>& centers() const { return centers_; }
    /// The list of every row, -1 for a row in none (added without updating the lists).
    std::vector<std::int64_t> row_lists() const {
        std::vector<std::int64_t> lists(list_of_row_.size());
        for (std::size_t r = 0; r < lists.size(); ++r)
            lists[r] = list_of_row_[r] == impl::kNoList ? -1 : static_cast<std::int64_t>(list_of_row_[r]);
        return lists;
    }
    /// The ids in posting list `list`, in the order added.
    std::vector<std::int64_t> list_ids(std::size_t list) const {
        if (list >= lists_.size()) throw std::out_of_range("list " + std::to_string(list) + " is not a posting list");
        std::vector<std::int64_t> out;
        out.reserve(lists_[list].rows.size());
        for (std::size_t row : lists_[list].rows) out.push_back(ids_[row]);
        return out;
    }
    /// The id add() gives the next row when no ids are given: one past the largest id, 0 when empty.
    std::int64_t next_id() const { return next_id_; }
    /// Sets next_id(), which must be past every id in the index (a restored index's).
    void set_next_id(std::int64_t next) {
        for (std::int64_t id : ids_)
            require(id < next, "next id " + std::to_string(next) + " is not past id " + std::to_string(id));
        next_id_ = next;
    }
    /// Threads for add(), reconfigure() and search(); 0 means the global setting.
    void set_num_threads(int num_threads) {
        require(num_threads >= 0, "num_threads must be >= 0");
        num_threads_ = num_threads;
    }

    /// Appends n rows of codes ([n][M], each < Ks) with `ids` (n distinct ids
    /// not in the index), or next_id(), next_id() + 1, ... when ids is null.
    /// With `update_lists`, each row joins the list of its nearest coarse
    /// center (the index must have lists). Leaves the index as it was on a throw.
    void add(const std::uint8_t* codes, std::size_t n, const std::int64_t* ids = nullptr, bool update_lists = false) {
        require(n == 0 || codes != nullptr, "add needs codes");
        require(!update_lists || !lists_.empty() || n == 0,
                "the posting lists must be made (reconfigure) before rows can be added to them");
        check_codes(codes, n, n_subspaces_, n_codewords_);
        const std::vector<std::int64_t> new_ids =
            impl::ids_to_add(ids, n, next_id_, [&](std::int64_t id) { return row_of(id) != size(); });
        const std::size_t first = size();
        std::vector<std::uint32_t> labels(update_lists ? n : 0);
        if (update_lists)
            impl::assign_to_centers(codebook(), centers_.data(), lists_.size(), codes, n, labels.data(), num_threads_);
        codes_.reserve(codes_.size() + checked_product(n, n_subspaces_, "codes"));  // may throw: nothing changed yet
        ids_.reserve(ids_.size() + n);
        list_of_row_.reserve(ids_.size() + n);
        position_of_row_.reserve(ids_.size() + n);
        codes_.insert(codes_.end(), codes, codes + n * n_subspaces_);
        ids_.insert(ids_.end(), new_ids.begin(), new_ids.end());
        list_of_row_.insert(list_of_row_.end(), n, impl::kNoList);
        position_of_row_.insert(position_of_row_.end(), n, 0);
        const bool was_identity = identity_ids_;
        for (std::size_t i = 0; i < n; ++i) {
            next_id_ = (std::max)(next_id_, new_ids[i] + 1);
            if (identity_ids_ && new_ids[i] != static_cast<std::int64_t>(first + i)) identity_ids_ = false;
        }
        if (!identity_ids_ && was_identity) {
            index_ids();
        } else if (!identity_ids_) {  // merge the new pairs into the sorted ones: O(N), not a sort of all
            for (std::size_t i = 0; i < n; ++i) sorted_ids_.emplace_back(new_ids[i], first + i);
            const auto middle = sorted_ids_.begin() + static_cast<std::ptrdiff_t>(first);
            std::sort(middle, sorted_ids_.end());
            std::inplace_merge(sorted_ids_.begin(), middle, sorted_ids_.end());
        }
        if (update_lists)
            for (std::size_t i = 0; i < n; ++i) join_list(first + i, labels[i]);
    }

    /// Trains n_lists coarse centers on the codes with PQk-means
    /// (`iterations` assignment steps, `seed` for the sample and the start)
    /// and puts every row in the list of its nearest center.
    void reconfigure(std::size_t n_lists, std::size_t iterations = 5, std::uint64_t seed = 123,
                     const Logger& log = {}) {
        require(n_lists > 0 && n_lists <= size(),
                "nlist must be in [1, N = " + std::to_string(size()) + "], got " + std::to_string(n_lists));
        require(n_lists < impl::kNoList, "nlist is too large");
        require(iterations > 0, "iter must be positive");
        std::vector<std::uint8_t> centers =
            impl::pq_kmeans(codebook(), codes_.data(), size(), n_lists, iterations, seed, num_threads_, log);
        std::vector<std::uint32_t> labels(size());
        impl::assign_to_centers(codebook(), centers.data(), n_lists, codes_.data(), size(), labels.data(),
                                num_threads_);
        set_lists(std::move(centers), labels);
        if (log) log("Posting lists: " + std::to_string(n_lists) + " lists of " + std::to_string(size()) + " rows");
    }

    /// Deletes the rows of `ids` (distinct ids in the index). Rows keep their
    /// order; the lists keep their centers.
    void remove(const std::int64_t* ids, std::size_t n) {
        require(n == 0 || ids != nullptr, "remove needs ids");
        std::vector<std::size_t> rows = rows_of(ids, n, "ids");
        std::vector<bool> removed(size(), false);
        for (std::size_t row : rows) removed[row] = true;
        std::size_t kept = 0;
        std::vector<std::uint32_t> labels;
        labels.reserve(size() - n);
        for (std::size_t row = 0; row < size(); ++row) {
            if (removed[row]) continue;
            std::copy_n(codes_.begin() + row * n_subspaces_, n_subspaces_, codes_.begin() + kept * n_subspaces_);
            ids_[kept] = ids_[row];
            labels.push_back(list_of_row_[row]);
            ++kept;
        }
        codes_.resize(kept * n_subspaces_);
        ids_.resize(kept);
        identity_ids_ = true;
        for (std::size_t r = 0; r < kept; ++r) identity_ids_ = identity_ids_ && ids_[r] == static_cast<std::int64_t>(r);
        if (identity_ids_)
            sorted_ids_.clear();
        else
            index_ids();
        std::vector<std::uint8_t> centers = std::move(centers_);
        set_lists(std::move(centers), labels);
    }

    /// Removes every row and the lists; keeps the codewords.
    void clear() {
        codes_.clear();
        ids_.clear();
        sorted_ids_.clear();
        centers_.clear();
        lists_.clear();
        list_of_row_.clear();
        position_of_row_.clear();
        identity_ids_ = true;
        next_id_ = 0;
    }

    /// Restores an index from its parts (a file, a pickle): codes [n][M],
    /// their ids, centers [n_lists][M] and each row's list (-1 for none).
    /// Checks all of them.
    static Rii restore(std::vector<float> codewords, std::size_t n_subspaces, std::size_t n_codewords,
                       std::size_t subspace_dim, Metric metric, const std::uint8_t* codes, const std::int64_t* ids,
                       std::size_t n, const std::uint8_t* centers, std::size_t n_lists, const std::int64_t* row_lists) {
        Rii index(std::move(codewords), n_subspaces, n_codewords, subspace_dim, metric);
        index.add(codes, n, ids, false);
        require(n_lists < impl::kNoList, "nlist is too large");
        require(n_lists == 0 || centers != nullptr, "centers are missing");
        check_codes(centers, n_lists, n_subspaces, n_codewords);
        std::vector<std::uint32_t> labels(n, impl::kNoList);
        for (std::size_t r = 0; r < n; ++r) {
            if (row_lists[r] == -1) continue;
            if (row_lists[r] < 0 || static_cast<std::size_t>(row_lists[r]) >= n_lists)
                throw std::out_of_range("the list of row " + std::to_string(r) + " is " + std::to_string(row_lists[r]) +
                                        ", not -1 or a list < nlist = " + std::to_string(n_lists));
            labels[r] = static_cast<std::uint32_t>(row_lists[r]);
        }
        index.set_lists(std::vector<std::uint8_t>(centers, centers + n_lists * n_subspaces), labels);
        return index;
    }

    /// The rows of `ids` (distinct ids in the index), in their order.
    /// Throws std::out_of_range naming an id not in the index, std::invalid_argument for a repeated one.
    std::vector<std::size_t> rows_of(const std::int64_t* ids, std::size_t n, const char* what) const {
        std::vector<std::size_t> rows(n);
        for (std::size_t j = 0; j < n; ++j) {
            const std::int64_t id = ids[j];
            const std::size_t row = row_of(id);
            if (row == size())
                throw std::out_of_range(std::string(what) + "[" + std::to_string(j) + "] = " + std::to_string(id) +
                                        " is not an id in the index");
            rows[j] = row;
        }
        std::vector<std::size_t> sorted(rows);
        std::sort(sorted.begin(), sorted.end());
        const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
        if (repeated != sorted.end())
            throw std::invalid_argument(std::string(what) + " holds id " + std::to_string(ids_[*repeated]) +
                                        " more than once");
        return rows;
    }

    /// search() with each query's distance table made here from the
    /// codewords (nanopq's l2 entries to the bit; inner products summed in
    /// order, where numpy's BLAS may round otherwise). Throws
    /// std::invalid_argument for a query whose table overflows float32.
    SearchResult search(const float* queries, std::size_t n_queries, std::size_t k, std::size_t n_candidates,
                        const std::int64_t* target_ids = nullptr, std::size_t n_targets = 0,
                        RiiMethod method = RiiMethod::ivf) const {
        return search(queries, nullptr, n_queries, k, n_candidates, target_ids, n_targets, method);
    }

    /// The k best rows for each of n_queries queries ([q][M * Ds], in the
    /// codewords' space: rotated, for OPQ), as ids, with their distance
    /// tables ([q][M][Ks], this index's metric) given, or made here when
    /// `tables` is null; among the rows of
    /// `target_ids` only, when given. The queries rank the lists (by their
    /// l2 distance, or inner product, to the decoded centers); the tables
    /// give the distances. `n_candidates` is rii's L: the ivf method
    /// takes candidates list by list until it has that many (rii's rule, see
    /// impl/inverted_lists.hpp) and returns their exact top-k; linear returns
    /// the exact top-k of all rows (or all targets). Empty slots hold id -1.
    SearchResult search(const float* queries, const float* tables, std::size_t n_queries, std::size_t k,
                        std::size_t n_candidates, const std::int64_t* target_ids, std::size_t n_targets,
                        RiiMethod method) const {
        require(k > 0, "topk must be positive");
        require(n_queries == 0 || queries != nullptr, "search needs queries");
        require(method == RiiMethod::linear || !lists_.empty(),
                "the ivf search needs posting lists: call reconfigure (or add_configure) first");
        require(method == RiiMethod::linear || n_candidates >= k,
                "L must be at least topk = " + std::to_string(k) + ", got " + std::to_string(n_candidates));
        require(n_targets == 0 || target_ids != nullptr, "target ids are missing");
        std::vector<std::size_t> rows;
        if (target_ids) {
            rows = rows_of(target_ids, n_targets, "target_ids");
            std::sort(rows.begin(), rows.end());
        }
        SearchResult result;
        result.n_queries = n_queries;
        result.k = k;
        result.ids.resize(checked_product(n_queries, k, "search results"));
        result.distances.resize(result.ids.size());
        if (method == RiiMethod::linear) {
            std::vector<float> made;
            if (!tables) {  // the flat scan takes the batch's tables at once
                made.resize(checked_product(n_queries, maker_.table_size(), "distance tables"));
                for (std::size_t q = 0; q < n_queries; ++q)
                    impl::make_checked_table(impl::active_kernels(), maker_, queries + q * dim(), q,
                                             made.data() + q * maker_.table_size());
                tables = made.data();
            }
            std::vector<std::int64_t> subset(rows.begin(), rows.end());
            impl::search(tables, n_queries, n_subspaces_, n_codewords_, codes_.data(), size(), k, metric_,
                         target_ids ? subset.data() : nullptr, subset.size(), result.ids.data(),
                         result.distances.data(), num_threads_);
        } else {
            const impl::ListsView lists = view();
            impl::TargetRows targets;
            if (target_ids) targets = impl::target_rows(lists, rows);
            impl::search_lists(lists, queries, tables, maker_, n_queries, k, n_candidates, metric_,
                               target_ids ? &targets : nullptr, result.ids.data(), result.distances.data(),
                               num_threads_);
        }
        for (std::int64_t& id : result.ids)
            if (id >= 0) id = ids_[static_cast<std::size_t>(id)];
        return result;
    }

private:
    impl::CodebookView codebook() const {
        return impl::CodebookView{codewords_.data(), n_subspaces_, n_codewords_, subspace_dim_};
    }

    impl::ListsView view() const {
        impl::ListsView lists;
        lists.n_rows = size();
        lists.n_subspaces = n_subspaces_;
        lists.n_codewords = n_codewords_;
        lists.coarse = &coarse_;
        lists.lists = lists_.data();
        lists.n_lists = lists_.size();
        lists.list_of_row = list_of_row_.data();
        lists.position_of_row = position_of_row_.data();
        return lists;
    }

    // The row of `id`, or size() for an id not in the index.
    std::size_t row_of(std::int64_t id) const {
        if (identity_ids_)
            return id >= 0 && static_cast<std::size_t>(id) < size() ? static_cast<std::size_t>(id) : size();
        const auto at = std::lower_bound(sorted_ids_.begin(), sorted_ids_.end(), std::make_pair(id, std::size_t{0}));
        return at != sorted_ids_.end() && at->first == id ? at->second : size();
    }

    // (id, row) pairs by id, for ids that are not the rows themselves.
    void index_ids() {
        sorted_ids_.resize(ids_.size());
        for (std::size_t r = 0; r < ids_.size(); ++r) sorted_ids_[r] = {ids_[r], r};
        std::sort(sorted_ids_.begin(), sorted_ids_.end());
    }

    void join_list(std::size_t row, std::uint32_t list) {
        list_of_row_[row] = list;
        position_of_row_[row] = static_cast<std::uint32_t>(lists_[list].rows.size());
        impl::with_layout(n_codewords_, [&](auto layout) {
            impl::append_to_list(layout, lists_[list], row, codes_.data() + row * n_subspaces_, n_subspaces_);
        });
    }

    // Rebuilds the lists from each row's list (kNoList for none).
    void set_lists(std::vector<std::uint8_t> centers, const std::vector<std::uint32_t>& labels) {
        const std::size_t n_lists = centers.size() / n_subspaces_;
        std::vector<impl::PostingList> lists(n_lists);
        std::vector<std::size_t> sizes(n_lists, 0);
        for (std::uint32_t label : labels)
            if (label != impl::kNoList) ++sizes[label];
        for (std::size_t l = 0; l < n_lists; ++l) {
            lists[l].rows.reserve(sizes[l]);
            lists[l].blocks.reserve(sizes[l] * n_subspaces_);
        }
        coarse_ = coarse_centers(centers);
        centers_ = std::move(centers);
        lists_ = std::move(lists);
        list_of_row_.assign(size(), impl::kNoList);
        position_of_row_.assign(size(), 0);
        for (std::size_t row = 0; row < size(); ++row)
            if (labels[row] != impl::kNoList) join_list(row, labels[row]);
    }

    // The centers decoded for the ranking of lists.
    impl::CoarseCenters coarse_centers(const std::vector<std::uint8_t>& centers) const {
        const std::size_t n_lists = centers.size() / n_subspaces_;
        std::vector<float> decoded(n_lists * dim());
        impl::gather_codewords(centers.data(), n_lists, codebook(), decoded.data());
        return impl::CoarseCenters(decoded.data(), n_lists, dim());
    }

    std::vector<float> codewords_;
    std::size_t n_subspaces_ = 0, n_codewords_ = 0, subspace_dim_ = 0;
    Metric metric_ = Metric::l2;
    int num_threads_ = 0;
    std::vector<std::uint8_t> codes_;
    std::vector<std::int64_t> ids_;
    bool identity_ids_ = true;  // ids_[r] == r for every row: no lookup table needed
    std::vector<std::pair<std::int64_t, std::size_t>> sorted_ids_;
    std::int64_t next_id_ = 0;
    std::vector<std::uint8_t> centers_;
    std::vector<impl::PostingList> lists_;
    impl::CoarseCenters coarse_;
    impl::TableMaker maker_;
    std::vector<std::uint32_t> list_of_row_, position_of_row_;
};

}  // namespace nanopq_cpp
