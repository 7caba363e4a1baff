#pragma once
// Product quantization over raw arrays: training codewords per subspace,
// encoding, decoding and distance tables (Jegou et al., TPAMI 2011).

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "../codes.hpp"
#include "../common.hpp"
#include "distance.hpp"
#include "kmeans.hpp"
#include "random.hpp"
#include "threading.hpp"

namespace nanopq_cpp::impl {

// Codewords as nanopq holds them: [M][Ks][Ds], contiguous float32.
struct CodebookView {
    const float* codewords = nullptr;
    std::size_t n_subspaces = 0;   // M
    std::size_t n_codewords = 0;   // Ks
    std::size_t subspace_dim = 0;  // Ds
    std::size_t dim() const { return n_subspaces * subspace_dim; }
    void validate() const {
        require(codewords != nullptr, "codewords are not set");
        require(n_subspaces > 0 && n_codewords > 0 && subspace_dim > 0, "M, Ks and Ds must be positive");
    }
};

// Trains M x Ks codewords on n vectors of dim = M * Ds. Subspaces are trained
// in parallel, each from its own random stream derived from (seed, m), so the
// result depends on the seed only. `initial`, when given, holds starting
// codewords ([M][Ks][Ds]) and options.init must be KMeansInit::given.
// Trusts its caller that dim is a multiple of M (subspace_dim_of).
inline std::vector<float> train_codewords(const float* vecs, std::size_t n, std::size_t dim, std::size_t n_subspaces,
                                          std::size_t n_codewords, const KMeansOptions& options, std::uint64_t seed,
                                          const float* initial = nullptr, const Logger& log = {}) {
    require(vecs != nullptr, "training vectors are missing");
    require(n_codewords > 0 && n > 0, "Ks and the number of training vectors must be positive");
    require((options.init == KMeansInit::given) == (initial != nullptr),
            "initial codewords go with KMeansInit::given, and only with it");
    const std::size_t subspace_dim = dim / n_subspaces;
    const std::size_t per_subspace = checked_product(n_codewords, subspace_dim, "codewords");
    std::vector<float> codewords(checked_product(per_subspace, n_subspaces, "codewords"));
    if (initial) std::copy_n(initial, codewords.size(), codewords.begin());

    // Split the threads between subspaces and, when M is small, within each
    // k-means; both levels are thread-count independent in their results.
    const int total_threads = resolve_num_threads(options.num_threads);
    const int outer = static_cast<int>(std::min<std::size_t>(n_subspaces, static_cast<std::size_t>(total_threads)));
    KMeansOptions inner_options = options;
    inner_options.num_threads = (std::max)(1, total_threads / (std::max)(1, outer));
    std::mutex log_mutex;
    parallel_for(n_subspaces, outer, [&](std::size_t m) {
        if (log) {
            std::lock_guard<std::mutex> lock(log_mutex);
            log("Training the subspace: " + std::to_string(m) + " / " + std::to_string(n_subspaces));
        }
        Random random(seed, m);
        kmeans(vecs + m * subspace_dim, n, subspace_dim, dim, n_codewords, inner_options, random,
               codewords.data() + m * per_subspace);
    });
    return codewords;
}

// Points per encoding task: small enough to balance threads, large enough that
// each subspace's codebook is reused from L1 across many points.
inline constexpr std::size_t kEncodeBlock = 256;

// Nearest codeword per subspace for n vectors, written as code_t to codes
// ([n][M]). Reports progress in tenths through `log` for large inputs.
template <class code_t>
void encode(const float* vecs, std::size_t n, const CodebookView& codebook, code_t* codes, int num_threads = 0,
            const Logger& log = {}) {
    codebook.validate();
    require(n == 0 || (vecs != nullptr && codes != nullptr), "encode needs input and output buffers");
    require(static_cast<unsigned long long>((std::numeric_limits<code_t>::max)()) >= codebook.n_codewords - 1,
            "the code type is too narrow for Ks");
    const std::size_t M = codebook.n_subspaces, Ks = codebook.n_codewords, Ds = codebook.subspace_dim;
    const std::size_t dim = codebook.dim();
    std::vector<float> transposed(M * Ks * Ds);
    for (std::size_t m = 0; m < M; ++m) {
        std::vector<float> t = transpose_codewords(codebook.codewords + m * Ks * Ds, Ks, Ds);
        std::copy(t.begin(), t.end(), transposed.begin() + m * Ks * Ds);
    }
    const auto nearest_codeword = active_kernels().nearest_codeword;
    const std::size_t n_blocks = (n + kEncodeBlock - 1) / kEncodeBlock;
    std::atomic<std::size_t> blocks_done{0};
    std::mutex log_mutex;
    parallel_for(n_blocks, resolve_num_threads(num_threads), [&](std::size_t block) {
        const std::size_t begin = block * kEncodeBlock, count = (std::min)(kEncodeBlock, n - begin);
        std::uint32_t labels[kEncodeBlock];
        for (std::size_t m = 0; m < M; ++m) {
            nearest_codeword(vecs + begin * dim + m * Ds, count, dim, transposed.data() + m * Ks * Ds, Ks, Ds, labels,
                             nullptr);
            for (std::size_t i = 0; i < count; ++i) codes[(begin + i) * M + m] = static_cast<code_t>(labels[i]);
        }
        if (log && n_blocks >= 10) {
            const std::size_t done = blocks_done.fetch_add(1) + 1;
            if (done * 10 / n_blocks != (done - 1) * 10 / n_blocks) {
                std::lock_guard<std::mutex> lock(log_mutex);
                log("Encoding: " + std::to_string((std::min)(n, done * kEncodeBlock)) + " / " + std::to_string(n) +
                    " vectors");
            }
        }
    });
}

// Copies each code's codewords into place. A compile-time Ds turns the copy
// into a few vector moves; a run-time one calls memmove for every sub-vector,
// which measured 1.6x slower for Ds=8.
template <std::size_t kDs, class code_t>
void gather_codewords_fixed(const code_t* codes, std::size_t n, const CodebookView& codebook, float* vecs) {
    const std::size_t M = codebook.n_subspaces, Ks = codebook.n_codewords;
    const std::size_t Ds = kDs != 0 ? kDs : codebook.subspace_dim;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t m = 0; m < M; ++m) {
            const float* source = codebook.codewords + (m * Ks + codes[i * M + m]) * Ds;
            float* target = vecs + (i * M + m) * Ds;
            for (std::size_t d = 0; d < Ds; ++d) target[d] = source[d];
        }
}

template <class code_t>
void gather_codewords(const code_t* codes, std::size_t n, const CodebookView& codebook, float* vecs) {
    switch (codebook.subspace_dim) {
        case 1: return gather_codewords_fixed<1>(codes, n, codebook, vecs);
        case 2: return gather_codewords_fixed<2>(codes, n, codebook, vecs);
        case 4: return gather_codewords_fixed<4>(codes, n, codebook, vecs);
        case 8: return gather_codewords_fixed<8>(codes, n, codebook, vecs);
        case 16: return gather_codewords_fixed<16>(codes, n, codebook, vecs);
        case 32: return gather_codewords_fixed<32>(codes, n, codebook, vecs);
        default: return gather_codewords_fixed<0>(codes, n, codebook, vecs);
    }
}

// Reconstructs n vectors ([n][M*Ds]) from codes ([n][M]); rejects codes >= Ks.
template <class code_t>
void decode(const code_t* codes, std::size_t n, const CodebookView& codebook, float* vecs, int num_threads = 0) {
    codebook.validate();
    require(n == 0 || (vecs != nullptr && codes != nullptr), "decode needs input and output buffers");
    const std::size_t M = codebook.n_subspaces, Ks = codebook.n_codewords, Ds = codebook.subspace_dim;
    check_codes(codes, n, M, Ks);
    const std::size_t n_blocks = (n + kEncodeBlock - 1) / kEncodeBlock;
    // Floats written per thread: copying is cheap, so only large decodes split.
    const int threads = threads_for(n * M * Ds, std::size_t{1} << 21, num_threads);
    parallel_for(n_blocks, threads, [&](std::size_t block) {
        const std::size_t begin = block * kEncodeBlock, count = (std::min)(kEncodeBlock, n - begin);
        gather_codewords(codes + begin * M, count, codebook, vecs + begin * M * Ds);
    });
}

// Makes the distance tables of one codebook: row m of a query's table holds
// the squared l2 distance (Metric::l2) or inner product (Metric::dot) between
// the query's m-th sub-vector and each codeword of subspace m. For l2 and
// Ds < 8 it keeps the codewords as columns ([M][Ds][Ks]), which SIMD reads a
// column at a time: the same entries, to the bit.
class TableMaker {
public:
    TableMaker() = default;
    // Keeps a copy of the codewords, so the maker can outlive them.
    TableMaker(const CodebookView& codebook, Metric metric)
        : codewords_(codebook.codewords,
                     codebook.codewords + codebook.n_subspaces * codebook.n_codewords * codebook.subspace_dim),
          codebook_{codewords_.data(), codebook.n_subspaces, codebook.n_codewords, codebook.subspace_dim},
          metric_(metric) {
        codebook.validate();
        for (float value : codewords_)
            largest_codeword_ = (std::max)(largest_codeword_, static_cast<double>(std::fabs(value)));
        if (!(largest_codeword_ < 1e30)) largest_codeword_ = std::numeric_limits<double>::infinity();  // NaN too
        const std::size_t M = codebook.n_subspaces, Ks = codebook.n_codewords, Ds = codebook.subspace_dim;
        if (metric != Metric::l2 || Ds >= 8) return;
        columns_.resize(M * Ks * Ds);
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t k = 0; k < Ks; ++k)
                for (std::size_t d = 0; d < Ds; ++d)
                    columns_[(m * Ds + d) * Ks + k] = codebook.codewords[(m * Ks + k) * Ds + d];
    }

    // True when no entry of the table of `query` can overflow float32: every
    // |query value| and |codeword value| is at most some a and b with
    // Ds (a + b)^2 well below FLT_MAX (which bounds an l2 entry's sum of
    // squares, and an inner product's Ds a b). Saves checking the table.
    bool cannot_overflow(const float* query) const {
        float largest = 0.0f;  // NaN if a value is NaN: then the table is checked
        for (std::size_t i = 0; i < codebook_.dim(); ++i)
            if (!(std::fabs(query[i]) <= largest)) largest = std::fabs(query[i]);
        const double reach = static_cast<double>(largest) + largest_codeword_;
        return reach * reach * static_cast<double>(codebook_.subspace_dim) < 1e36;
    }

    // Row m ([Ks]) of the table of `query` (M * Ds floats).
    void make_row(const KernelTable& kernels, const float* query, std::size_t m, float* row) const {
        const std::size_t Ks = codebook_.n_codewords, Ds = codebook_.subspace_dim;
        const float* sub = query + m * Ds;
        if (!columns_.empty())
            kernels.l2_table_columns(sub, columns_.data() + m * Ks * Ds, Ks, Ds, row);
        else
            (metric_ == Metric::l2 ? kernels.l2_table : kernels.dot_table)(sub, codebook_.codewords + m * Ks * Ds, Ks,
                                                                           Ds, row);
    }

    // The whole table ([M][Ks]) of `query`.
    void make(const KernelTable& kernels, const float* query, float* table) const {
        for (std::size_t m = 0; m < codebook_.n_subspaces; ++m)
            make_row(kernels, query, m, table + m * codebook_.n_codewords);
    }

    // True when make_levels and entry can serve: l2 tables of codewords kept as columns.
    bool has_columns() const { return !columns_.empty(); }

    // The fast-scan levels of the table of `query` into each row's place
    // of `lut` (kernels.l2_levels_columns), without the table; false, with
    // nothing written, when an entry could overflow. Needs has_columns().
    template <class Layout>
    bool make_levels(const KernelTable& kernels, const float* query, float scale, int top, std::uint8_t* lut) const {
        if (!cannot_overflow(query)) return false;
        const std::size_t M = codebook_.n_subspaces, Ks = codebook_.n_codewords, Ds = codebook_.subspace_dim;
        std::fill(lut, lut + Layout::lut_bytes(M), std::uint8_t{0});
        for (std::size_t m = 0; m < M; ++m)
            kernels.l2_levels_columns(query + m * Ds, columns_.data() + m * Ks * Ds, Ks, Ds, scale, top,
                                      lut + Layout::lut_offset(m));
        return true;
    }

    // Entry [m][code] of the table of `query` (M * Ds floats), to the bit,
    // without the rest of the table. Needs has_columns().
    float entry(const float* query, std::size_t m, std::size_t code) const {
        const std::size_t Ks = codebook_.n_codewords, Ds = codebook_.subspace_dim;
        return reference::l2_column_entry(query + m * Ds, columns_.data() + m * Ks * Ds, Ks, Ds, code);
    }

    TableMaker(const TableMaker& other) : TableMaker(other.codebook_, other.metric_) {}
    TableMaker& operator=(const TableMaker& other) {
        if (this != &other) *this = TableMaker(other.codebook_, other.metric_);
        return *this;
    }
    TableMaker(TableMaker&&) = default;  // a vector's move keeps its buffer: codebook_ stays valid
    TableMaker& operator=(TableMaker&&) = default;

    std::size_t table_size() const { return codebook_.n_subspaces * codebook_.n_codewords; }

private:
    std::vector<float> codewords_;
    CodebookView codebook_;
    Metric metric_ = Metric::l2;
    std::vector<float> columns_;
    double largest_codeword_ = 0.0;  // the largest |codeword value|
};

// Distance tables for n_queries queries: out[q][m][k] (TableMaker's entries).
inline void distance_tables(const float* queries, std::size_t n_queries, const CodebookView& codebook, Metric metric,
                            float* out, int num_threads = 0) {
    require(n_queries == 0 || (queries != nullptr && out != nullptr), "distance_tables needs buffers");
    const TableMaker maker(codebook, metric);
    const std::size_t M = codebook.n_subspaces, Ks = codebook.n_codewords, Ds = codebook.subspace_dim;
    const std::size_t tasks = n_queries * M;
    // One task per (query, subspace); run inline for a single small table.
    const int threads = threads_for(tasks * Ks * Ds, std::size_t{1} << 20, num_threads);
    const KernelTable& kernels = active_kernels();
    parallel_for(tasks, threads, [&](std::size_t task) {
        const std::size_t q = task / M, m = task % M;
        maker.make_row(kernels, queries + q * M * Ds, m, out + (q * M + m) * Ks);
    });
}

}  // namespace nanopq_cpp::impl
