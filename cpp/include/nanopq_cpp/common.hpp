#pragma once
// Types and checks shared by every part of the core.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

namespace nanopq_cpp {

// How two vectors are compared. Training and encoding always use l2: nanopq
// documents that "dot" only changes distance tables and search.
enum class Metric { l2, dot };

inline Metric metric_from_name(const std::string& name) {
    if (name == "l2") return Metric::l2;
    if (name == "dot") return Metric::dot;
    throw std::invalid_argument("metric must be 'l2' or 'dot', got '" + name + "'");
}

inline const char* metric_name(Metric metric) { return metric == Metric::l2 ? "l2" : "dot"; }

// A sink for progress lines (verbose=True). Empty means silent. It may be called
// from worker threads, one call at a time.
using Logger = std::function<void(const std::string&)>;

// Throws std::invalid_argument with `message` unless `condition` holds. The
// Python layer checks arguments first; these checks guard memory safety for
// native callers and for anything the Python layer missed.
inline void require(bool condition, const std::string& message) {
    if (!condition) throw std::invalid_argument(message);
}

// n * m with an overflow check, for sizes of buffers we are about to allocate.
inline std::size_t checked_product(std::size_t n, std::size_t m, const char* what) {
    if (m != 0 && n > (std::numeric_limits<std::size_t>::max)() / m)
        throw std::length_error(std::string(what) + " is too large to allocate");
    return n * m;
}

}  // namespace nanopq_cpp
