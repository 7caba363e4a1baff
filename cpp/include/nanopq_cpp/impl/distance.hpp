#pragma once
// The codeword layout the nearest-codeword kernels read, and the dispatched
// entry points the rest of the core calls.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "simd/dispatch.hpp"

namespace nanopq_cpp::impl {

// Codewords of one subspace stored dimension-major ([Ds][Ks]) so that the
// inner loop of a nearest-codeword search runs over contiguous codewords.
inline std::vector<float> transpose_codewords(const float* codewords, std::size_t n_codewords, std::size_t dim) {
    std::vector<float> transposed(n_codewords * dim);
    for (std::size_t k = 0; k < n_codewords; ++k)
        for (std::size_t d = 0; d < dim; ++d) transposed[d * n_codewords + k] = codewords[k * dim + d];
    return transposed;
}

}  // namespace nanopq_cpp::impl
