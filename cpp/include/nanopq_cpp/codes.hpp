#pragma once
/// @file
/// Code arrays: the code width chosen from Ks, and the one check that keeps every
/// table lookup inside its table.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "impl/threading.hpp"

namespace nanopq_cpp {

/// Width of a code in bytes for Ks codewords: 1, 2 or 4 (uint8/16/32), as nanopq picks.
inline std::size_t code_bytes_for(std::size_t n_codewords) {
    if (n_codewords <= (1ULL << 8)) return 1;
    if (n_codewords <= (1ULL << 16)) return 2;
    return 4;
}

/// Throws std::out_of_range naming the first code >= n_codewords. Costs one pass,
/// and nothing when code_t cannot hold such a value (e.g. uint8 codes, Ks=256).
template <class code_t>
void check_codes(const code_t* codes, std::size_t n_rows, std::size_t n_subspaces, std::size_t n_codewords) {
    static_assert(std::is_unsigned<code_t>::value, "codes are unsigned integers");
    if (static_cast<unsigned long long>((std::numeric_limits<code_t>::max)()) < n_codewords) return;
    const std::size_t count = n_rows * n_subspaces;
    // Branch-free scan for the common all-valid case, then locate the culprit.
    code_t largest = 0;
    for (std::size_t i = 0; i < count; ++i) largest = codes[i] > largest ? codes[i] : largest;
    if (static_cast<std::size_t>(largest) < n_codewords) return;
    for (std::size_t i = 0; i < count; ++i) {
        if (static_cast<std::size_t>(codes[i]) >= n_codewords) {
            throw std::out_of_range("codes[" + std::to_string(i / n_subspaces) + ", " +
                                    std::to_string(i % n_subspaces) + "] = " + std::to_string(codes[i]) +
                                    " is not a valid code: codes must be < Ks = " + std::to_string(n_codewords));
        }
    }
}

}  // namespace nanopq_cpp
