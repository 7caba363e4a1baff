#pragma once
// Packed codes: PQ codes of Ks <= 256 rearranged in blocks of rows so that a
// SIMD register holds one subspace's codes of many rows, for the fast scan
// (fast_scan.hpp). This file is the one description of the layout; the
// kernels (simd/fast_scan_*.hpp) and pack/unpack below follow it.
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

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "codes.hpp"
#include "common.hpp"
#include "packed_layout.hpp"

namespace nanopq_cpp {

// A read-only view of packed codes: n_rows rows of n_subspaces codes < n_codewords.
struct PackedCodesView {
    const std::uint8_t* data = nullptr;
    std::size_t n_rows = 0;
    std::size_t n_subspaces = 0;
    std::size_t n_codewords = 0;

    std::size_t bits() const { return packed_bits_for(n_codewords); }
    std::size_t block_rows() const {
        return detail::with_layout(n_codewords, [](auto layout) { return decltype(layout)::kRowsPerBlock; });
    }
    // Bytes of one full block, and of one row in the row-major tail.
    std::size_t block_bytes() const {
        return detail::with_layout(n_codewords, [&](auto layout) { return layout.block_bytes(n_subspaces); });
    }
    std::size_t row_bytes() const {
        return detail::with_layout(n_codewords, [&](auto layout) { return layout.row_bytes(n_subspaces); });
    }
    std::size_t n_full_blocks() const { return n_rows / block_rows(); }
    std::size_t n_tail_rows() const { return n_rows % block_rows(); }
    const std::uint8_t* block(std::size_t b) const { return data + b * block_bytes(); }
    const std::uint8_t* tail() const { return data + n_full_blocks() * block_bytes(); }
};

// Bytes that n rows of M codes < Ks take packed (see the layout above).
// Throws std::length_error where that overflows size_t.
inline std::size_t packed_size(std::size_t n_rows, std::size_t n_subspaces, std::size_t n_codewords) {
    return detail::with_layout(n_codewords, [&](auto layout) {
        return checked_product(n_rows, layout.row_bytes(n_subspaces), "packed codes");
    });
}

namespace detail {

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

}  // namespace detail

// Packs n rows of M codes (row-major, each < Ks <= 256) into out, which holds
// packed_size(n, M, Ks) bytes. Throws std::out_of_range for a code >= Ks.
template <class code_t>
void pack(const code_t* codes, std::size_t n_rows, std::size_t n_subspaces, std::size_t n_codewords,
          std::uint8_t* out) {
    require(n_subspaces > 0, "packed codes need M > 0");
    require(n_rows == 0 || (codes && out), "pack needs input and output buffers");
    check_codes(codes, n_rows, n_subspaces, n_codewords);
    detail::with_layout(n_codewords, [&](auto layout) {
        using Layout = decltype(layout);
        const std::size_t M = n_subspaces, n_full = n_rows / Layout::kRowsPerBlock;
        std::fill(out, out + checked_product(n_rows, Layout::row_bytes(M), "packed codes"), std::uint8_t{0});
        for (std::size_t b = 0; b < n_full; ++b) {
            std::uint8_t* block = out + b * Layout::block_bytes(M);
            const code_t* block_codes = codes + b * Layout::kRowsPerBlock * M;
            for (std::size_t j = 0; j < Layout::kRowsPerBlock; ++j)
                for (std::size_t m = 0; m < M; ++m)
                    Layout::put_in_block(block, j, m, static_cast<std::uint8_t>(block_codes[j * M + m]));
        }
        std::uint8_t* tail = out + n_full * Layout::block_bytes(M);
        for (std::size_t row = n_full * Layout::kRowsPerBlock; row < n_rows; ++row, tail += Layout::row_bytes(M))
            for (std::size_t m = 0; m < M; ++m)
                Layout::put_in_row(tail, m, static_cast<std::uint8_t>(codes[row * M + m]));
    });
}

// Throws std::out_of_range naming the first packed code >= Ks: packed codes
// that did not come from pack() (a file, a pickle) must pass this before a
// scan indexes a table with them. Free when every value of the width is a
// valid code (Ks = 16 or 256). Padding (an odd M's last half pair) is not read.
inline void check_packed_codes(const PackedCodesView& view) {
    // No rows, no codes: and M alone (unbounded by any bytes) sizes nothing here.
    if (view.n_codewords == (std::size_t{1} << view.bits()) || view.n_rows == 0) return;
    const std::size_t n_bytes = packed_size(view.n_rows, view.n_subspaces, view.n_codewords);
    // The common case in one branch-free pass: the largest code of all.
    std::uint8_t largest = 0;
    const bool known = detail::with_layout(view.n_codewords, [&](auto layout) {
        return layout.largest_code(view.data, n_bytes, view.n_subspaces, largest);
    });
    if (known && largest < view.n_codewords) return;
    std::vector<std::uint8_t> row(view.n_subspaces);
    for (std::size_t i = 0; i < view.n_rows; ++i) {
        detail::unpack_row(view, i, row.data());
        for (std::size_t m = 0; m < view.n_subspaces; ++m)
            if (row[m] >= view.n_codewords)
                throw std::out_of_range(
                    "packed codes[" + std::to_string(i) + ", " + std::to_string(m) + "] = " + std::to_string(row[m]) +
                    " is not a valid code: codes must be < Ks = " + std::to_string(view.n_codewords));
    }
}

// Packed codes that own their bytes: made by pack() from codes, or from bytes
// written earlier (checked against the shape and Ks, never trusted).
class PackedCodes {
public:
    PackedCodes() = default;

    // Takes bytes in the layout above; throws std::invalid_argument if their
    // size does not match (n, M, Ks), std::out_of_range for a code >= Ks.
    PackedCodes(std::vector<std::uint8_t> bytes, std::size_t n_rows, std::size_t n_subspaces, std::size_t n_codewords)
        : bytes_(std::move(bytes)), n_rows_(n_rows), n_subspaces_(n_subspaces), n_codewords_(n_codewords) {
        const std::size_t expected = checked_shape(n_rows, n_subspaces, n_codewords);
        require(bytes_.size() == expected,
                "packed codes of " + std::to_string(n_rows) + " rows, M = " + std::to_string(n_subspaces) +
                    ", Ks = " + std::to_string(n_codewords) + " take " + std::to_string(expected) + " bytes, got " +
                    std::to_string(bytes_.size()));
        check_packed_codes(view());
    }

    // Packs n rows of M codes < Ks (Ks <= 256).
    template <class code_t>
    static PackedCodes from_codes(const code_t* codes, std::size_t n_rows, std::size_t n_subspaces,
                                  std::size_t n_codewords) {
        PackedCodes packed;
        packed.bytes_.resize(checked_shape(n_rows, n_subspaces, n_codewords));
        pack(codes, n_rows, n_subspaces, n_codewords, packed.bytes_.data());
        packed.n_rows_ = n_rows;
        packed.n_subspaces_ = n_subspaces;
        packed.n_codewords_ = n_codewords;
        return packed;
    }

    std::size_t rows() const { return n_rows_; }
    std::size_t n_subspaces() const { return n_subspaces_; }
    std::size_t n_codewords() const { return n_codewords_; }
    std::size_t bits() const { return packed_bits_for(n_codewords_); }
    std::size_t nbytes() const { return bytes_.size(); }
    const std::vector<std::uint8_t>& bytes() const { return bytes_; }
    PackedCodesView view() const { return PackedCodesView{bytes_.data(), n_rows_, n_subspaces_, n_codewords_}; }

    // The codes again, [rows][M] uint8 (the code dtype of Ks <= 256).
    std::vector<std::uint8_t> unpack() const {
        std::vector<std::uint8_t> codes(checked_product(n_rows_, n_subspaces_, "codes"));
        detail::unpack_rows(view(), 0, n_rows_, codes.data());
        return codes;
    }

private:
    // The packed size of (n, M, Ks), after checking that every size derived
    // from them (a block, a LUT, the unpacked codes) fits size_t: a view of
    // these codes then computes none that overflows.
    static std::size_t checked_shape(std::size_t n_rows, std::size_t n_subspaces, std::size_t n_codewords) {
        require(n_subspaces > 0, "packed codes need M > 0");
        try {
            const std::size_t size = packed_size(n_rows, n_subspaces, n_codewords);
            checked_product(n_subspaces, 256, "lookup tables");
            checked_product(n_rows, n_subspaces, "unpacked codes");
            return size;
        } catch (const std::length_error&) {
            throw std::length_error("packed codes of N = " + std::to_string(n_rows) +
                                    " rows and M = " + std::to_string(n_subspaces) +
                                    " codes a row are too large: their size overflows size_t");
        }
    }

    std::vector<std::uint8_t> bytes_;
    std::size_t n_rows_ = 0;
    std::size_t n_subspaces_ = 0;
    std::size_t n_codewords_ = 0;
};

}  // namespace nanopq_cpp
