#pragma once
// AVX-512 fast-scan kernels. Same contracts as reference::scan_4bit and
// reference::scan_8bit (fast_scan_scalar.hpp); packed_codes.hpp describes the
// block layouts.
//
// 4 bits (F + BW): as avx2::scan_4bit, two pairs of subspaces per 64-byte load
// (vpshufb looks up within each 128-bit lane, so a LUT register holds four
// 16-entry tables); an odd last pair goes through a masked load.
//
// 8 bits (F + BW + VBMI): a 256-entry table is four 64-byte registers; two
// vpermi2b (_mm512_permutex2var_epi8, which indexes 128 bytes of two
// registers by the low 7 bits) look up all 64 rows' codes in the low and high
// halves of the table, and the codes' top bits (vpmovb2m) pick between them.
// Sums in 16 bits as in the 4-bit kernels (even rows = total - 256 * odd).

#include "fast_scan_avx2.hpp"
#include "fast_scan_scalar.hpp"
#include "level.hpp"

#if defined(NANOPQ_CPP_X86)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#if defined(__GNUC__) || defined(__clang__)
#define NANOPQ_CPP_TARGET_AVX512_SCAN __attribute__((target("avx512f,avx512bw,avx2")))
#define NANOPQ_CPP_TARGET_AVX512_VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi,bmi2,avx2")))
#else
#define NANOPQ_CPP_TARGET_AVX512_SCAN
#define NANOPQ_CPP_TARGET_AVX512_VBMI
#endif

namespace nanopq_cpp::impl {
namespace avx512 {

// The sum of a register's two 256-bit halves. (The zero-masking extracts:
// GCC 12's plain ones start from an "undefined" register that
// -Wmaybe-uninitialized flags.)
NANOPQ_CPP_TARGET_AVX512_SCAN inline __m256i fold_halves(__m512i x) {
    return _mm256_add_epi16(_mm512_maskz_extracti64x4_epi64(0xFF, x, 0), _mm512_maskz_extracti64x4_epi64(0xFF, x, 1));
}

// The 4-bit scan body (drivers.hpp scan_with).
struct Scan4Bit : ScanShape4Bit {
    template <int kQueries>
    NANOPQ_CPP_TARGET_AVX512_SCAN static void scan(const std::uint8_t* blocks, std::size_t n_blocks, std::size_t M,
                                                   const std::uint8_t* luts, const std::uint16_t* thresholds,
                                                   std::uint32_t* masks, std::size_t mask_stride) {
        const std::size_t block_bytes = lut_bytes(M), n_pairs = block_bytes / 32;
        const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
        const __mmask64 first_pair = 0xFFFFFFFFull;
        for (std::size_t b = 0; b < n_blocks; ++b) {
            const std::uint8_t* block = blocks + b * block_bytes;
            __m512i total_low[kQueries], odd_low[kQueries], total_high[kQueries], odd_high[kQueries];
            NANOPQ_CPP_UNROLL_QUERIES
            for (int q = 0; q < kQueries; ++q)
                total_low[q] = odd_low[q] = total_high[q] = odd_high[q] = _mm512_setzero_si512();
            for (std::size_t p = 0; p < n_pairs; p += 2) {
                // Two pairs at a time; a last single pair loads 32 bytes, zeros above.
                const __mmask64 lanes = p + 2 <= n_pairs ? ~__mmask64{0} : first_pair;
                const __m512i codes = _mm512_maskz_loadu_epi8(lanes, block + p * 32);
                const __m512i low = _mm512_and_si512(codes, low_nibbles);
                const __m512i high = _mm512_and_si512(_mm512_srli_epi16(codes, 4), low_nibbles);
                NANOPQ_CPP_UNROLL_QUERIES
                for (int q = 0; q < kQueries; ++q) {
                    const __m512i lut = _mm512_maskz_loadu_epi8(lanes, luts + q * block_bytes + p * 32);
                    const __m512i found_low = _mm512_shuffle_epi8(lut, low);
                    const __m512i found_high = _mm512_shuffle_epi8(lut, high);
                    total_low[q] = _mm512_add_epi16(total_low[q], found_low);
                    odd_low[q] = _mm512_add_epi16(odd_low[q], _mm512_srli_epi16(found_low, 8));
                    total_high[q] = _mm512_add_epi16(total_high[q], found_high);
                    odd_high[q] = _mm512_add_epi16(odd_high[q], _mm512_srli_epi16(found_high, 8));
                }
            }
            // Fold the two 256-bit halves (pairs p and p + 1): the AVX2 layout.
            NANOPQ_CPP_UNROLL_QUERIES
            for (int q = 0; q < kQueries; ++q)
                masks[b * mask_stride + q] =
                    avx2::rows_within(fold_halves(total_low[q]), fold_halves(odd_low[q]), fold_halves(total_high[q]),
                                      fold_halves(odd_high[q]), _mm256_set1_epi16(static_cast<short>(thresholds[q])));
        }
    }
};

inline constexpr int kScan4BitQueries = 4;

// The 8-bit scan body (drivers.hpp scan_with): one query at a time, four
// blocks at once (kScan8BitLoneBlocks), so that its four table registers,
// loaded once a subspace, serve four blocks of codes. On Zen 4, 38 ns a
// block and query, where two queries sharing each load of codes, a block at
// a time, took 47 and one query alone 69 (M = 32, codes in L1); the codes
// are read again for each query, from L1.
inline constexpr int kScan8BitQueries = 1;
inline constexpr std::size_t kScan8BitLoneBlocks = 4;
static_assert(kScan8BitQueries * kScan8BitLoneBlocks <= 4, "accumulators and table registers must fit 32 registers");
// The fewest subspaces before a check that a group of blocks can stop: a
// check costs about half a subspace's lookups.
inline constexpr std::size_t kScan8BitMinCheckpoint = 4;

struct Scan8Bit : ScanShape8Bit {
    template <int kQueries>
    NANOPQ_CPP_TARGET_AVX512_VBMI static void scan(const std::uint8_t* blocks, std::size_t n_blocks,
                                                   std::size_t n_subspaces, const std::uint8_t* luts,
                                                   const std::uint16_t* thresholds, std::uint64_t* masks,
                                                   std::size_t mask_stride) {
        std::size_t b = 0;
        // Two blocks at once measured slower than one (72 against 56 ns a block).
        for (; b + kScan8BitLoneBlocks <= n_blocks; b += kScan8BitLoneBlocks)
            scan_at<kQueries, kScan8BitLoneBlocks>(blocks, b, n_subspaces, luts, thresholds, masks, mask_stride);
        for (; b < n_blocks; ++b) scan_at<kQueries, 1>(blocks, b, n_subspaces, luts, thresholds, masks, mask_stride);
    }

    // Which of a block's rows have a sum within `threshold`, from its two
    // accumulators: lane i of the even rows' sums (total - 256 * odd) is row
    // 2i, lane i of `odd` row 2i + 1.
    struct RowsWithin {
        __mmask32 even, odd;
    };
    NANOPQ_CPP_TARGET_AVX512_VBMI static RowsWithin rows_within(__m512i total, __m512i odd, __m512i threshold) {
        const __m512i even = _mm512_sub_epi16(total, _mm512_slli_epi16(odd, 8));
        return {_mm512_cmple_epu16_mask(even, threshold), _mm512_cmple_epu16_mask(odd, threshold)};
    }

    // True when no row of the blocks has a sum (so far) within its query's threshold.
    template <int kQueries, std::size_t kBlocks>
    NANOPQ_CPP_TARGET_AVX512_VBMI static bool none_within(const __m512i (&total)[kQueries][kBlocks],
                                                          const __m512i (&odd)[kQueries][kBlocks],
                                                          const std::uint16_t* thresholds) {
        __mmask32 within = 0;
        NANOPQ_CPP_UNROLL_QUERIES
        for (int q = 0; q < kQueries; ++q) {
            const __m512i threshold = _mm512_set1_epi16(static_cast<short>(thresholds[q]));
            for (std::size_t j = 0; j < kBlocks; ++j) {
                const RowsWithin rows = rows_within(total[q][j], odd[q][j], threshold);
                within |= rows.even | rows.odd;
            }
        }
        return within == 0;
    }

    // Blocks [first, first + kBlocks) for kQueries queries.
    template <int kQueries, std::size_t kBlocks>
    NANOPQ_CPP_TARGET_AVX512_VBMI static void scan_at(const std::uint8_t* blocks, std::size_t first,
                                                      std::size_t n_subspaces, const std::uint8_t* luts,
                                                      const std::uint16_t* thresholds, std::uint64_t* masks,
                                                      std::size_t mask_stride) {
        const std::size_t block_bytes = n_subspaces * 64, luts_apart = lut_bytes(n_subspaces);
        const std::uint8_t* block = blocks + first * block_bytes;
        __m512i total[kQueries][kBlocks], odd[kQueries][kBlocks];
        NANOPQ_CPP_UNROLL_QUERIES
        for (int q = 0; q < kQueries; ++q)
            for (std::size_t j = 0; j < kBlocks; ++j) total[q][j] = odd[q][j] = _mm512_setzero_si512();
        // A row's sum only grows with the subspaces added, so once no row of
        // the group is within its threshold at a checkpoint, none will be at
        // the end: on 1M image patches (PQ32x8, nprobe 5) 37% of the groups
        // of four blocks stop at one, 16% halfway.
        const std::size_t half = n_subspaces / 2, three_quarters = n_subspaces - n_subspaces / 4;
        for (std::size_t m = 0; m < n_subspaces; ++m) {
            if ((m == half || m == three_quarters) && m >= kScan8BitMinCheckpoint &&
                none_within<kQueries, kBlocks>(total, odd, thresholds)) {
                NANOPQ_CPP_UNROLL_QUERIES
                for (int q = 0; q < kQueries; ++q)
                    for (std::size_t j = 0; j < kBlocks; ++j) masks[(first + j) * mask_stride + q] = 0;
                return;
            }
            __m512i codes[kBlocks];
            __mmask64 upper_half[kBlocks];
            for (std::size_t j = 0; j < kBlocks; ++j) {
                codes[j] = _mm512_loadu_si512(block + j * block_bytes + m * 64);
                upper_half[j] = _mm512_movepi8_mask(codes[j]);  // codes >= 128
            }
            NANOPQ_CPP_UNROLL_QUERIES
            for (int q = 0; q < kQueries; ++q) {
                const std::uint8_t* lut = luts + q * luts_apart + m * 256;
                const __m512i lut0 = _mm512_loadu_si512(lut), lut1 = _mm512_loadu_si512(lut + 64);
                const __m512i lut2 = _mm512_loadu_si512(lut + 128), lut3 = _mm512_loadu_si512(lut + 192);
                for (std::size_t j = 0; j < kBlocks; ++j) {
                    const __m512i lower = _mm512_permutex2var_epi8(lut0, codes[j], lut1);
                    const __m512i upper = _mm512_permutex2var_epi8(lut2, codes[j], lut3);
                    const __m512i found = _mm512_mask_blend_epi8(upper_half[j], lower, upper);
                    total[q][j] = _mm512_add_epi16(total[q][j], found);
                    odd[q][j] = _mm512_add_epi16(odd[q][j], _mm512_srli_epi16(found, 8));
                }
            }
        }
        NANOPQ_CPP_UNROLL_QUERIES
        for (int q = 0; q < kQueries; ++q) {
            const __m512i threshold = _mm512_set1_epi16(static_cast<short>(thresholds[q]));
            for (std::size_t j = 0; j < kBlocks; ++j) {
                const RowsWithin rows = rows_within(total[q][j], odd[q][j], threshold);
                // Deposit the even rows' bits at bits 2i, the odd rows' at 2i + 1.
                masks[(first + j) * mask_stride + q] =
                    _pdep_u64(rows.even, 0x5555555555555555ull) | _pdep_u64(rows.odd, 0xAAAAAAAAAAAAAAAAull);
            }
        }
    }
};

}  // namespace avx512
}  // namespace nanopq_cpp::impl

#endif  // NANOPQ_CPP_X86
