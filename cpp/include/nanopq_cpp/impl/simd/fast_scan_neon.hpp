#pragma once
// The NEON 4-bit fast-scan kernel: 16-entry LUTs looked up with `tbl`
// (vqtbl1q_u8), widening adds into 16-bit accumulators, several queries per
// load of codes. Same contract as reference::scan_4bit (fast_scan_scalar.hpp);
// packed_codes.hpp describes the block layout.

#include "drivers.hpp"
#include "fast_scan_scalar.hpp"
#include "level.hpp"

#if defined(NANOPQ_CPP_ARM64)
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

namespace nanopq_cpp::impl {
namespace neon {

// One bit a row for the 16 rows of two 8-lane comparison results (lanes all
// ones or zero): keep each lane's own bit, then add across the lanes.
inline std::uint32_t row_bits(uint16x8_t first, uint16x8_t second) {
    static const std::uint16_t bit_values[8] = {1, 2, 4, 8, 16, 32, 64, 128};
    const uint16x8_t bits = vld1q_u16(bit_values);
    return static_cast<std::uint32_t>(vaddvq_u16(vandq_u16(first, bits))) |
           static_cast<std::uint32_t>(vaddvq_u16(vandq_u16(second, bits))) << 8;
}

// The 4-bit scan body (drivers.hpp scan_with).
struct Scan4Bit : ScanShape4Bit {
    template <int kQueries>
    static void scan(const std::uint8_t* blocks, std::size_t n_blocks, std::size_t M, const std::uint8_t* luts,
                     const std::uint16_t* thresholds, std::uint32_t* masks, std::size_t mask_stride) {
        const std::size_t block_bytes = lut_bytes(M), n_pairs = block_bytes / 32;
        const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
        for (std::size_t b = 0; b < n_blocks; ++b) {
            const std::uint8_t* block = blocks + b * block_bytes;
            // Sums of rows 0-7, 8-15, 16-23 and 24-31 for each query.
            uint16x8_t sums[kQueries][4];
            NANOPQ_CPP_UNROLL_QUERIES
            for (int q = 0; q < kQueries; ++q)
                for (int part = 0; part < 4; ++part) sums[q][part] = vdupq_n_u16(0);
            for (std::size_t p = 0; p < n_pairs; ++p) {
                for (int half = 0; half < 2; ++half) {
                    const uint8x16_t codes = vld1q_u8(block + p * 32 + half * 16);
                    const uint8x16_t low = vandq_u8(codes, low_nibbles), high = vshrq_n_u8(codes, 4);
                    NANOPQ_CPP_UNROLL_QUERIES
                    for (int q = 0; q < kQueries; ++q) {
                        const uint8x16_t lut = vld1q_u8(luts + q * block_bytes + p * 32 + half * 16);
                        const uint8x16_t found_low = vqtbl1q_u8(lut, low), found_high = vqtbl1q_u8(lut, high);
                        sums[q][0] = vaddw_u8(sums[q][0], vget_low_u8(found_low));
                        sums[q][1] = vaddw_high_u8(sums[q][1], found_low);
                        sums[q][2] = vaddw_u8(sums[q][2], vget_low_u8(found_high));
                        sums[q][3] = vaddw_high_u8(sums[q][3], found_high);
                    }
                }
            }
            NANOPQ_CPP_UNROLL_QUERIES
            for (int q = 0; q < kQueries; ++q) {
                const uint16x8_t threshold = vdupq_n_u16(thresholds[q]);
                masks[b * mask_stride + q] =
                    row_bits(vcleq_u16(sums[q][0], threshold), vcleq_u16(sums[q][1], threshold)) |
                    row_bits(vcleq_u16(sums[q][2], threshold), vcleq_u16(sums[q][3], threshold)) << 16;
            }
        }
    }
};

// Queries per load of codes: 16 accumulators of the 32 registers.
inline constexpr int kScanQueries = 4;

}  // namespace neon
}  // namespace nanopq_cpp::impl

#endif  // NANOPQ_CPP_ARM64
