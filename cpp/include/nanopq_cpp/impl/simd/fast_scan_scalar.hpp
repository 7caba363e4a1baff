#pragma once
// The portable fast-scan kernels: plain loops over packed blocks that every
// per-ISA kernel (fast_scan_avx2.hpp, fast_scan_avx512.hpp, fast_scan_neon.hpp)
// must match bit for bit. The block layouts are described in packed_codes.hpp.
//
// A kernel scans n_blocks consecutive full blocks of codes of M subspaces
// (both widths take M) for n_queries quantized
// tables ("LUTs") at once and reports, per block and query, which rows' sum of
// LUT entries is <= that query's threshold: bit j of masks[b * n_queries + q]
// is row j of block b. The caller (fast_scan.hpp) keeps every sum below 65536,
// so SIMD kernels may accumulate in 16 bits, and 4-bit LUT entries at most
// kMaxLevel4Bit, so they may add two lookups in 8 bits first.
//
// LUT layouts, one LUT after another for the n_queries queries:
//   4 bits: [pair][32] bytes: 16 entries of subspace 2p, then 16 of 2p + 1
//           (zero for an odd M's padding), the halves a 32-byte block load
//           indexes.
//   8 bits: [M][256] bytes.

#include <cstddef>
#include <cstdint>

// The SIMD kernels keep one set of accumulators per query in registers, in
// arrays indexed by a compile-time loop: unrolled at -O2 too, or they would
// live on the stack.
#if defined(__clang__)
#define NANOPQ_CPP_UNROLL_QUERIES _Pragma("unroll")
#elif defined(__GNUC__)
#define NANOPQ_CPP_UNROLL_QUERIES _Pragma("GCC unroll 8")
#else
#define NANOPQ_CPP_UNROLL_QUERIES
#endif

namespace nanopq_cpp::impl {

// The largest 4-bit LUT entry: two fit a byte.
inline constexpr std::size_t kMaxLevel4Bit = 127;

// What a scan kernel's driver (drivers.hpp scan_with) needs of a width: the
// mask type (a bit a row of a block) and the bytes of one query's LUT.
struct ScanShape4Bit {
    using Mask = std::uint32_t;
    // M / 2 + M % 2 pairs, not (M + 1) / 2, which wraps to 0 for M = SIZE_MAX.
    static std::size_t lut_bytes(std::size_t M) { return (M / 2 + M % 2) * 32; }
};
struct ScanShape8Bit {
    using Mask = std::uint64_t;
    static std::size_t lut_bytes(std::size_t M) { return M * 256; }
};

namespace reference {

inline void scan_4bit(const std::uint8_t* blocks, std::size_t n_blocks, std::size_t M, const std::uint8_t* luts,
                      std::size_t n_queries, const std::uint16_t* thresholds, std::uint32_t* masks) {
    const std::size_t block_bytes = ScanShape4Bit::lut_bytes(M), n_pairs = block_bytes / 32;
    for (std::size_t b = 0; b < n_blocks; ++b) {
        const std::uint8_t* block = blocks + b * block_bytes;
        for (std::size_t q = 0; q < n_queries; ++q) {
            const std::uint8_t* lut = luts + q * block_bytes;
            std::uint32_t mask = 0;
            for (std::size_t row = 0; row < 32; ++row) {
                std::uint32_t sum = 0;
                for (std::size_t p = 0; p < n_pairs; ++p)
                    for (std::size_t half = 0; half < 2; ++half) {
                        const std::uint8_t byte = block[p * 32 + half * 16 + row % 16];
                        const std::uint8_t code = row < 16 ? byte & 0x0F : byte >> 4;
                        sum += lut[p * 32 + half * 16 + code];
                    }
                if (sum <= thresholds[q]) mask |= std::uint32_t{1} << row;
            }
            masks[b * n_queries + q] = mask;
        }
    }
}

inline void scan_8bit(const std::uint8_t* blocks, std::size_t n_blocks, std::size_t n_subspaces,
                      const std::uint8_t* luts, std::size_t n_queries, const std::uint16_t* thresholds,
                      std::uint64_t* masks) {
    const std::size_t block_bytes = n_subspaces * 64;
    for (std::size_t b = 0; b < n_blocks; ++b) {
        const std::uint8_t* block = blocks + b * block_bytes;
        for (std::size_t q = 0; q < n_queries; ++q) {
            const std::uint8_t* lut = luts + q * n_subspaces * 256;
            std::uint64_t mask = 0;
            for (std::size_t row = 0; row < 64; ++row) {
                std::uint32_t sum = 0;
                for (std::size_t m = 0; m < n_subspaces; ++m) sum += lut[m * 256 + block[m * 64 + row]];
                if (sum <= thresholds[q]) mask |= std::uint64_t{1} << row;
            }
            masks[b * n_queries + q] = mask;
        }
    }
}

}  // namespace reference
}  // namespace nanopq_cpp::impl
