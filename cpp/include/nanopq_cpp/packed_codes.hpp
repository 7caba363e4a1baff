#pragma once
/// @file
/// Packed codes: PQ codes of Ks <= 256 rearranged in blocks of rows so that a
/// SIMD register holds one subspace's codes of many rows, for the fast scan
/// (impl/fast_scan.hpp).
///
/// The layout is described in impl/packed_layout.hpp.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "codes.hpp"
#include "common.hpp"
#include "impl/packed_layout.hpp"

namespace nanopq_cpp {

/// Bytes that n rows of M codes < Ks take packed (see the layout above).
/// Throws std::length_error where that overflows size_t.
inline std::size_t packed_size(std::size_t n_rows, std::size_t n_subspaces, std::size_t n_codewords) {
    return impl::with_layout(n_codewords, [&](auto layout) {
        return checked_product(n_rows, layout.row_bytes(n_subspaces), "packed codes");
    });
}

/// Packs n rows of M codes (row-major, each < Ks <= 256) into out, which holds
/// packed_size(n, M, Ks) bytes. Throws std::out_of_range for a code >= Ks.
template <class code_t>
void pack(const code_t* codes, std::size_t n_rows, std::size_t n_subspaces, std::size_t n_codewords,
          std::uint8_t* out) {
    require(n_subspaces > 0, "packed codes need M > 0");
    require(n_rows == 0 || (codes && out), "pack needs input and output buffers");
    check_codes(codes, n_rows, n_subspaces, n_codewords);
    impl::with_layout(n_codewords, [&](auto layout) {
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

/// Throws std::out_of_range naming the first packed code >= Ks: packed codes
/// that did not come from pack() (a file, a pickle) must pass this before a
/// scan indexes a table with them. Free when every value of the width is a
/// valid code (Ks = 16 or 256). Padding (an odd M's last half pair) is not read.
inline void check_packed_codes(const impl::PackedCodesView& view) {
    // No rows, no codes: and M alone (unbounded by any bytes) sizes nothing here.
    if (view.n_codewords == (std::size_t{1} << view.bits()) || view.n_rows == 0) return;
    const std::size_t n_bytes = packed_size(view.n_rows, view.n_subspaces, view.n_codewords);
    // The common case in one branch-free pass: the largest code of all.
    std::uint8_t largest = 0;
    const bool known = impl::with_layout(view.n_codewords, [&](auto layout) {
        return layout.largest_code(view.data, n_bytes, view.n_subspaces, largest);
    });
    if (known && largest < view.n_codewords) return;
    std::vector<std::uint8_t> row(view.n_subspaces);
    for (std::size_t i = 0; i < view.n_rows; ++i) {
        impl::unpack_row(view, i, row.data());
        for (std::size_t m = 0; m < view.n_subspaces; ++m)
            if (row[m] >= view.n_codewords)
                throw std::out_of_range(
                    "packed codes[" + std::to_string(i) + ", " + std::to_string(m) + "] = " + std::to_string(row[m]) +
                    " is not a valid code: codes must be < Ks = " + std::to_string(view.n_codewords));
    }
}

/// Packed codes that own their bytes: made by pack() from codes, or from bytes
/// written earlier (checked against the shape and Ks, never trusted).
class PackedCodes {
public:
    PackedCodes() = default;

    /// Takes bytes in the layout above; throws std::invalid_argument if their
    /// size does not match (n, M, Ks), std::out_of_range for a code >= Ks.
    PackedCodes(std::vector<std::uint8_t> bytes, std::size_t n_rows, std::size_t n_subspaces, std::size_t n_codewords)
        : bytes_(std::move(bytes)), n_rows_(n_rows), n_subspaces_(n_subspaces), n_codewords_(n_codewords) {
        const std::size_t expected = checked_shape(n_rows, n_subspaces, n_codewords);
        require(bytes_.size() == expected,
                "packed codes of " + std::to_string(n_rows) + " rows, M = " + std::to_string(n_subspaces) +
                    ", Ks = " + std::to_string(n_codewords) + " take " + std::to_string(expected) + " bytes, got " +
                    std::to_string(bytes_.size()));
        check_packed_codes(view());
    }

    /// Packs n rows of M codes < Ks (Ks <= 256).
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

    /// The number of rows (vectors).
    std::size_t rows() const { return n_rows_; }
    /// M, the number of subspaces.
    std::size_t n_subspaces() const { return n_subspaces_; }
    /// Ks, the number of codewords a subspace.
    std::size_t n_codewords() const { return n_codewords_; }
    /// Bits a code takes packed: 4 (Ks <= 16) or 8.
    std::size_t bits() const { return impl::packed_bits_for(n_codewords_); }
    /// Bytes of the packed codes.
    std::size_t nbytes() const { return bytes_.size(); }
    /// The packed bytes (the layout of impl/packed_layout.hpp).
    const std::vector<std::uint8_t>& bytes() const { return bytes_; }
    /// The view the engine reads (an internal type).
    impl::PackedCodesView view() const {
        return impl::PackedCodesView{bytes_.data(), n_rows_, n_subspaces_, n_codewords_};
    }

    /// The codes again, [rows][M] uint8 (the code dtype of Ks <= 256).
    std::vector<std::uint8_t> unpack() const {
        std::vector<std::uint8_t> codes(checked_product(n_rows_, n_subspaces_, "codes"));
        impl::unpack_rows(view(), 0, n_rows_, codes.data());
        return codes;
    }

private:
    /// The packed size of (n, M, Ks), after checking that every size derived
    /// from them (a block, a LUT, the unpacked codes) fits size_t: a view of
    /// these codes then computes none that overflows.
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
