#pragma once
/// @file
/// Types and checks shared by every part of the core.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace nanopq_cpp {

/// How two vectors are compared. Training and encoding always use l2: nanopq
/// documents that "dot" only changes distance tables and search.
enum class Metric { l2, dot };

/// The Metric named "l2" or "dot"; throws std::invalid_argument for another name.
inline Metric metric_from_name(const std::string& name) {
    if (name == "l2") return Metric::l2;
    if (name == "dot") return Metric::dot;
    throw std::invalid_argument("metric must be 'l2' or 'dot', got '" + name + "'");
}

/// "l2" or "dot".
inline const char* metric_name(Metric metric) { return metric == Metric::l2 ? "l2" : "dot"; }

/// Top-k neighbours of a batch of queries: for query q, ids[q * k + j] and
/// distances[q * k + j] are its j-th best code (smallest l2 distance, or largest
/// inner product for Metric::dot). Slots beyond the number of candidates hold
/// id -1 and distance +inf (l2) or -inf (dot).
struct SearchResult {
    /// The number of queries.
    std::size_t n_queries = 0;
    /// Slots a query.
    std::size_t k = 0;
    /// Row ids, [n_queries][k] row-major, best first; -1 in an empty slot.
    std::vector<std::int64_t> ids;
    /// Their distances; +inf (l2) or -inf (dot) in an empty slot.
    std::vector<float> distances;
};

/// A sink for progress lines (verbose=True). Empty means silent. It may be called
/// from worker threads, one call at a time.
using Logger = std::function<void(const std::string&)>;

/// Throws std::invalid_argument with `message` unless `condition` holds. The
/// Python layer checks arguments first; these checks guard memory safety for
/// native callers and for anything the Python layer missed.
inline void require(bool condition, const std::string& message) {
    if (!condition) throw std::invalid_argument(message);
}

/// Ds = dim / M: the one check that dim is a positive multiple of M > 0, made
/// where a C++ caller hands over vectors (the quantizers' fit). The engine's
/// training functions trust their callers on it.
inline std::size_t subspace_dim_of(std::size_t dim, std::size_t n_subspaces) {
    if (n_subspaces == 0 || dim == 0 || dim % n_subspaces != 0)
        throw std::invalid_argument("dim must be a positive multiple of M = " + std::to_string(n_subspaces) + ", got " +
                                    std::to_string(dim));
    return dim / n_subspaces;
}

/// n * m with an overflow check, for sizes of buffers we are about to allocate.
inline std::size_t checked_product(std::size_t n, std::size_t m, const char* what) {
    if (m != 0 && n > (std::numeric_limits<std::size_t>::max)() / m)
        throw std::length_error(std::string(what) + " is too large to allocate");
    return n * m;
}

}  // namespace nanopq_cpp
