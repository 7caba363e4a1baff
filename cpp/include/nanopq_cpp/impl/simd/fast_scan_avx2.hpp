#pragma once
// The AVX2 4-bit fast-scan kernel: 16-entry LUTs looked up in registers with
// vpshufb, 16-bit accumulators, several queries per load of codes, and the
// threshold compare in SIMD. Same contract as reference::scan_4bit
// (fast_scan_scalar.hpp); packed_codes.hpp describes the block layout.
//
// Per pair of subspaces and 32 rows, one 32-byte load gives the low nibbles
// (rows 0-15) and high nibbles (rows 16-31) of both subspaces, one in each
// 128-bit half; the query's 32-byte LUT holds the two subspaces' tables in the
// matching halves, so each vpshufb does 32 lookups. The uint8 results are
// summed in 16-bit lanes without unpacking: adding the bytes as uint16 gives
// even + 256 * odd (mod 2^16) for each pair of rows, and a second accumulator
// of the results shifted right by 8 gives odd alone, from which
// even = total - 256 * odd (exact while every sum is below 2^16).

#include "drivers.hpp"
#include "fast_scan_scalar.hpp"
#include "level.hpp"

#if defined(NANOPQ_CPP_X86)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#if defined(__GNUC__) || defined(__clang__)
#define NANOPQ_CPP_TARGET_AVX2_SCAN __attribute__((target("avx2")))
#else
#define NANOPQ_CPP_TARGET_AVX2_SCAN
#endif

namespace nanopq_cpp::impl {
namespace avx2 {

// Bit j set where row j's sum is <= threshold, from the four accumulators of
// one block: totals and odd-row sums of the low-nibble rows (0-15) and of the
// high-nibble rows (16-31), each holding the two subspaces of a pair in its
// two 128-bit halves.
NANOPQ_CPP_TARGET_AVX2_SCAN inline std::uint32_t rows_within(__m256i total_low, __m256i odd_low, __m256i total_high,
                                                             __m256i odd_high, __m256i threshold) {
    // Add the halves: lane 0 then holds rows 0-15, lane 1 rows 16-31.
    const __m256i total = _mm256_add_epi16(_mm256_permute2x128_si256(total_low, total_high, 0x20),
                                           _mm256_permute2x128_si256(total_low, total_high, 0x31));
    const __m256i odd = _mm256_add_epi16(_mm256_permute2x128_si256(odd_low, odd_high, 0x20),
                                         _mm256_permute2x128_si256(odd_low, odd_high, 0x31));
    const __m256i even = _mm256_sub_epi16(total, _mm256_slli_epi16(odd, 8));
    // Unsigned x <= t as min(x, t) == x.
    const __m256i even_in = _mm256_cmpeq_epi16(_mm256_min_epu16(even, threshold), even);
    const __m256i odd_in = _mm256_cmpeq_epi16(_mm256_min_epu16(odd, threshold), odd);
    // Interleave even and odd rows back into row order, then one bit a row.
    const __m256i rows_0_7 = _mm256_unpacklo_epi16(even_in, odd_in);   // lane 1: rows 16-23
    const __m256i rows_8_15 = _mm256_unpackhi_epi16(even_in, odd_in);  // lane 1: rows 24-31
    return static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_packs_epi16(rows_0_7, rows_8_15)));
}

// The 4-bit scan body (drivers.hpp scan_with): kQueries queries over
// n_blocks blocks; each block's codes are loaded once and looked up in every
// query's LUT.
struct Scan4Bit : ScanShape4Bit {
    template <int kQueries>
    NANOPQ_CPP_TARGET_AVX2_SCAN static void scan(const std::uint8_t* blocks, std::size_t n_blocks, std::size_t M,
                                                 const std::uint8_t* luts, const std::uint16_t* thresholds,
                                                 std::uint32_t* masks, std::size_t mask_stride) {
        const std::size_t block_bytes = lut_bytes(M), n_pairs = block_bytes / 32;
        const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
        for (std::size_t b = 0; b < n_blocks; ++b) {
            const std::uint8_t* block = blocks + b * block_bytes;
            __m256i total_low[kQueries], odd_low[kQueries], total_high[kQueries], odd_high[kQueries];
            NANOPQ_CPP_UNROLL_QUERIES
            for (int q = 0; q < kQueries; ++q)
                total_low[q] = odd_low[q] = total_high[q] = odd_high[q] = _mm256_setzero_si256();
            // Two pairs at a time: their lookups are added in 8 bits first (LUT
            // entries are at most 127), which halves the widening work.
            std::size_t p = 0;
            for (; p + 2 <= n_pairs; p += 2) {
                const __m256i codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + p * 32));
                const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + p * 32 + 32));
                const __m256i low = _mm256_and_si256(codes, low_nibbles);
                const __m256i high = _mm256_and_si256(_mm256_srli_epi16(codes, 4), low_nibbles);
                const __m256i next_low = _mm256_and_si256(next, low_nibbles);
                const __m256i next_high = _mm256_and_si256(_mm256_srli_epi16(next, 4), low_nibbles);
                NANOPQ_CPP_UNROLL_QUERIES
                for (int q = 0; q < kQueries; ++q) {
                    const std::uint8_t* lut_pair = luts + q * block_bytes + p * 32;
                    const __m256i lut = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut_pair));
                    const __m256i next_lut = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut_pair + 32));
                    const __m256i found_low =
                        _mm256_add_epi8(_mm256_shuffle_epi8(lut, low), _mm256_shuffle_epi8(next_lut, next_low));
                    const __m256i found_high =
                        _mm256_add_epi8(_mm256_shuffle_epi8(lut, high), _mm256_shuffle_epi8(next_lut, next_high));
                    total_low[q] = _mm256_add_epi16(total_low[q], found_low);
                    odd_low[q] = _mm256_add_epi16(odd_low[q], _mm256_srli_epi16(found_low, 8));
                    total_high[q] = _mm256_add_epi16(total_high[q], found_high);
                    odd_high[q] = _mm256_add_epi16(odd_high[q], _mm256_srli_epi16(found_high, 8));
                }
            }
            if (p < n_pairs) {
                const __m256i codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + p * 32));
                const __m256i low = _mm256_and_si256(codes, low_nibbles);
                const __m256i high = _mm256_and_si256(_mm256_srli_epi16(codes, 4), low_nibbles);
                NANOPQ_CPP_UNROLL_QUERIES
                for (int q = 0; q < kQueries; ++q) {
                    const __m256i lut =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(luts + q * block_bytes + p * 32));
                    const __m256i found_low = _mm256_shuffle_epi8(lut, low);
                    const __m256i found_high = _mm256_shuffle_epi8(lut, high);
                    total_low[q] = _mm256_add_epi16(total_low[q], found_low);
                    odd_low[q] = _mm256_add_epi16(odd_low[q], _mm256_srli_epi16(found_low, 8));
                    total_high[q] = _mm256_add_epi16(total_high[q], found_high);
                    odd_high[q] = _mm256_add_epi16(odd_high[q], _mm256_srli_epi16(found_high, 8));
                }
            }
            NANOPQ_CPP_UNROLL_QUERIES
            for (int q = 0; q < kQueries; ++q)
                masks[b * mask_stride + q] = rows_within(total_low[q], odd_low[q], total_high[q], odd_high[q],
                                                         _mm256_set1_epi16(static_cast<short>(thresholds[q])));
        }
    }
};

// Queries per load of codes: two keep their 8 accumulators and the
// temporaries in the 16 ymm registers. Measured on Zen 3 (M=32, 1M rows, one
// thread, on a busy machine): 1 query 0.65-0.68 ms, 2 queries 0.53-0.58 ms,
// 3 queries 0.52-0.55 ms, 4 queries 0.59-0.60 ms per query.
inline constexpr int kScanQueries = 2;

}  // namespace avx2
}  // namespace nanopq_cpp::impl

#endif  // NANOPQ_CPP_X86
