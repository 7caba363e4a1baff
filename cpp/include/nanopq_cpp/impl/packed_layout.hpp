#pragma once
// The packed-code layouts, in full:
//
// 4-bit layout (Ks <= 16): rows in blocks of 32, subspaces
// in pairs (2p, 2p + 1); an odd M gets a last pair whose second half is zero.
// A full block is n_pairs * 32 bytes, pair p at byte 32 p:
//     byte j      (j < 16): code(row j, 2p)     | code(row j + 16, 2p)     << 4
//     byte 16 + j (j < 16): code(row j, 2p + 1) | code(row j + 16, 2p + 1) << 4
// so one 32-byte load gives, in its 128-bit halves, the two 16-entry table
// indices a `vpshufb` (or NEON `tbl`) looks up for 32 rows.
//
// 8-bit layout (16 < Ks <= 256): rows in blocks of 64; a
// full block is M * 64 bytes, subspace m at byte 64 m:
//     byte j (j < 64): code(row j, m)
// one 64-byte load per subspace: the indices of a `vpermi2b` lookup.
//
// The rows after the last full block (fewer than a block) follow in row-major
// order: for 4 bits, n_pairs bytes a row, byte p = code(row, 2p) |
// code(row, 2p + 1) << 4; for 8 bits, M bytes a row. So the packed codes take
// n * ceil(M / 2) bytes (4 bits) or n * M bytes (8 bits): never more than the
// uint8 codes, and half of them for 4 bits and even M.
//
// One type per packed code width: everything in which 4-bit and 8-bit packed
// codes differ (the layout of packed_codes.hpp, the LUT layout of
// simd/fast_scan_scalar.hpp, the kernel entry and its mask type) is a member
// of Layout4Bit or Layout8Bit, and code that handles both is
// written once over a Layout, chosen by with_layout. A new width is a
// new Layout type, its kernel entries, and one more case in with_layout.
//
// Internal: these trust their callers (a view checked by PackedCodes, a row
// j < kRowsPerBlock, a subspace m < M).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "../common.hpp"
#include "simd/dispatch.hpp"
#include "simd/fast_scan_scalar.hpp"

namespace nanopq_cpp::impl {

// Bits a packed code takes for Ks codewords: 4 (Ks <= 16) or 8 (Ks <= 256).
inline std::size_t packed_bits_for(std::size_t n_codewords) {
    if (n_codewords == 0 || n_codewords > 256)
        throw std::invalid_argument("packed codes need 1 <= Ks <= 256, got Ks = " + std::to_string(n_codewords));
    return n_codewords <= 16 ? 4 : 8;
}

// Two codes a byte. A block is 32 rows by subspace pairs (2p, 2p + 1), pair p
// at byte 32 p: byte j (j < 16) holds subspace 2p of rows j and j + 16 (low
// and high nibble), byte 16 + j subspace 2p + 1. A tail row is a byte a pair.
struct Layout4Bit {
    static constexpr std::size_t kBits = 4;
    static constexpr std::size_t kRowsPerBlock = 32;
    // The largest LUT entry: two fit a byte (fast_scan_scalar.hpp).
    static constexpr std::size_t kMaxLevel = kMaxLevel4Bit;
    using Mask = std::uint32_t;  // one bit a row of a block

    // M / 2 + M % 2, not (M + 1) / 2, which wraps to 0 for M = SIZE_MAX.
    static std::size_t row_bytes(std::size_t M) { return M / 2 + M % 2; }
    static std::size_t block_bytes(std::size_t M) { return row_bytes(M) * 32; }
    // A query's LUT: 16 entries a subspace, laid out as a block's bytes.
    static std::size_t lut_bytes(std::size_t M) { return ScanShape4Bit::lut_bytes(M); }
    // Where subspace m's 16 bytes start in a block, and its entries in a LUT
    // (which follows the block layout).
    static constexpr std::size_t subspace_offset(std::size_t m) { return (m / 2) * 32 + (m % 2) * 16; }
    static constexpr std::size_t lut_offset(std::size_t m) { return subspace_offset(m); }

    static std::uint8_t code_in_block(const std::uint8_t* block, std::size_t row, std::size_t m) {
        const std::uint8_t byte = block[subspace_offset(m) + row % 16];
        return static_cast<std::uint8_t>(row < 16 ? byte & 0x0F : byte >> 4);
    }
    // Into a block that starts zeroed.
    static void put_in_block(std::uint8_t* block, std::size_t row, std::size_t m, std::uint8_t code) {
        block[subspace_offset(m) + row % 16] |= static_cast<std::uint8_t>(row < 16 ? code : code << 4);
    }
    static std::uint8_t code_in_row(const std::uint8_t* row, std::size_t m) {
        return static_cast<std::uint8_t>(m % 2 == 0 ? row[m / 2] & 0x0F : row[m / 2] >> 4);
    }
    // Into a row that starts zeroed.
    static void put_in_row(std::uint8_t* row, std::size_t m, std::uint8_t code) {
        row[m / 2] |= static_cast<std::uint8_t>(m % 2 == 0 ? code : code << 4);
    }
    // The largest code in `n_bytes` of codes, when every nibble is a code
    // (an even M: no padding half); false where padding makes that unknown.
    static bool largest_code(const std::uint8_t* bytes, std::size_t n_bytes, std::size_t M, std::uint8_t& largest) {
        if (M % 2 != 0) return false;
        largest = 0;
        for (std::size_t i = 0; i < n_bytes; ++i)
            largest = (std::max)(largest, (std::max)(static_cast<std::uint8_t>(bytes[i] >> 4),
                                                     static_cast<std::uint8_t>(bytes[i] & 0x0F)));
        return true;
    }

    // The scan kernel's entry in the kernel table.
    static constexpr auto kScan = &KernelTable::scan_4bit;
    static std::string missing_kernel(const std::string& level) {
        return "exact scan (no 4-bit kernel at level " + level + ")";
    }
};

// One code a byte. A block is 64 rows, subspace m at byte 64 m: byte j is
// row j's code. A tail row is M bytes.
struct Layout8Bit {
    static constexpr std::size_t kBits = 8;
    static constexpr std::size_t kRowsPerBlock = 64;
    static constexpr std::size_t kMaxLevel = 255;
    using Mask = std::uint64_t;

    static std::size_t row_bytes(std::size_t M) { return M; }
    static std::size_t block_bytes(std::size_t M) { return M * 64; }
    // A query's LUT: 256 entries a subspace, one subspace after another.
    static std::size_t lut_bytes(std::size_t M) { return ScanShape8Bit::lut_bytes(M); }
    static constexpr std::size_t subspace_offset(std::size_t m) { return m * 64; }
    static constexpr std::size_t lut_offset(std::size_t m) { return m * 256; }

    static std::uint8_t code_in_block(const std::uint8_t* block, std::size_t row, std::size_t m) {
        return block[m * 64 + row];
    }
    static void put_in_block(std::uint8_t* block, std::size_t row, std::size_t m, std::uint8_t code) {
        block[m * 64 + row] = code;
    }
    static std::uint8_t code_in_row(const std::uint8_t* row, std::size_t m) { return row[m]; }
    static void put_in_row(std::uint8_t* row, std::size_t m, std::uint8_t code) { row[m] = code; }
    static bool largest_code(const std::uint8_t* bytes, std::size_t n_bytes, std::size_t, std::uint8_t& largest) {
        largest = 0;
        for (std::size_t i = 0; i < n_bytes; ++i) largest = (std::max)(largest, bytes[i]);
        return true;
    }

    static constexpr auto kScan = &KernelTable::scan_8bit;
    static std::string missing_kernel(const std::string&) {
        const std::string why = "exact scan (the 8-bit fast scan needs level avx512 and AVX-512 VBMI";
        if (simd_vbmi_supported()) return why + ", which this CPU has: set_simd_level('avx512'))";
        return why + ", which this CPU lacks)";
    }
};

// Whether `kernels` has a scan kernel of its own for Layout's width, rather
// than the portable one.
template <class Layout>
bool has_scan_kernel(Layout, const KernelTable& kernels) {
    return kernels.*Layout::kScan != kernels_for(SimdLevel::scalar).*Layout::kScan;
}

// Calls body(Layout4Bit{}) or body(Layout8Bit{}) for packed codes of Ks codewords.
template <class Body>
decltype(auto) with_layout(std::size_t n_codewords, Body&& body) {
    if (packed_bits_for(n_codewords) == 4) return body(Layout4Bit{});
    return body(Layout8Bit{});
}

// A read-only view of packed codes: n_rows rows of n_subspaces codes < n_codewords.
struct PackedCodesView {
    const std::uint8_t* data = nullptr;
    std::size_t n_rows = 0;
    std::size_t n_subspaces = 0;
    std::size_t n_codewords = 0;

    std::size_t bits() const { return packed_bits_for(n_codewords); }
    std::size_t block_rows() const {
        return with_layout(n_codewords, [](auto layout) { return decltype(layout)::kRowsPerBlock; });
    }
    // Bytes of one full block, and of one row in the row-major tail.
    std::size_t block_bytes() const {
        return with_layout(n_codewords, [&](auto layout) { return layout.block_bytes(n_subspaces); });
    }
    std::size_t row_bytes() const {
        return with_layout(n_codewords, [&](auto layout) { return layout.row_bytes(n_subspaces); });
    }
    std::size_t n_full_blocks() const { return n_rows / block_rows(); }
    std::size_t n_tail_rows() const { return n_rows % block_rows(); }
    const std::uint8_t* block(std::size_t b) const { return data + b * block_bytes(); }
    const std::uint8_t* tail() const { return data + n_full_blocks() * block_bytes(); }
};

// Writes the codes of row `row` (M uint8 values) to out.
template <class Layout>
void unpack_row(Layout, const PackedCodesView& view, std::size_t row, std::uint8_t* out) {
    const std::size_t M = view.n_subspaces, b = row / Layout::kRowsPerBlock;
    if (b < view.n_rows / Layout::kRowsPerBlock) {
        const std::uint8_t* block = view.data + b * Layout::block_bytes(M);
        for (std::size_t m = 0; m < M; ++m) out[m] = Layout::code_in_block(block, row % Layout::kRowsPerBlock, m);
    } else {
        const std::uint8_t* row_data = view.tail() + (row - b * Layout::kRowsPerBlock) * Layout::row_bytes(M);
        for (std::size_t m = 0; m < M; ++m) out[m] = Layout::code_in_row(row_data, m);
    }
}

inline void unpack_row(const PackedCodesView& view, std::size_t row, std::uint8_t* out) {
    with_layout(view.n_codewords, [&](auto layout) { unpack_row(layout, view, row, out); });
}

// Writes rows [first, first + count) as [count][M] uint8 codes to out. Rows
// of full blocks are unpacked a block at a time, subspace by subspace (a
// transpose): the exact scan of packed codes runs through here.
inline void unpack_rows(const PackedCodesView& view, std::size_t first, std::size_t count, std::uint8_t* out) {
    with_layout(view.n_codewords, [&](auto layout) {
        using Layout = decltype(layout);
        const std::size_t M = view.n_subspaces, n_full = view.n_rows / Layout::kRowsPerBlock;
        const std::size_t end = first + count;
        std::size_t row = first;
        while (row < end) {
            const std::size_t b = row / Layout::kRowsPerBlock, in_block = row % Layout::kRowsPerBlock;
            if (b >= n_full) break;
            const std::size_t take = (std::min)(Layout::kRowsPerBlock - in_block, end - row);
            const std::uint8_t* block = view.data + b * Layout::block_bytes(M);
            std::uint8_t* dest = out + (row - first) * M;
            for (std::size_t m = 0; m < M; ++m)
                for (std::size_t j = 0; j < take; ++j) dest[j * M + m] = Layout::code_in_block(block, in_block + j, m);
            row += take;
        }
        for (; row < end; ++row) unpack_row(layout, view, row, out + (row - first) * M);
    });
}

// The rows after the last full block as one full block (block_bytes() bytes
// at out), with code 0 in the rows past the end: the kernels scan only full
// blocks.
inline void tail_as_block(const PackedCodesView& view, std::uint8_t* out) {
    with_layout(view.n_codewords, [&](auto layout) {
        using Layout = decltype(layout);
        const std::size_t M = view.n_subspaces;
        std::fill(out, out + Layout::block_bytes(M), std::uint8_t{0});
        const std::uint8_t* tail = view.tail();
        for (std::size_t j = 0; j < view.n_tail_rows(); ++j)
            for (std::size_t m = 0; m < M; ++m)
                Layout::put_in_block(out, j, m, Layout::code_in_row(tail + j * Layout::row_bytes(M), m));
    });
}

}  // namespace nanopq_cpp::impl
