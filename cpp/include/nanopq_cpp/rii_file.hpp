#pragma once
/// @file
/// Index files: a Rii (rii.hpp) with the quantizer that encodes its vectors,
/// in one versioned, checksummed file that Python (`Rii.save`, `Rii.load`) and
/// C++ read and write alike. docs/model-format.md specifies the layout:
///
///     header, 64 bytes (little-endian):
///       0  magic        \x89 N P Q I D X \n
///       8  u32 version  1
///      12  u32 reserved 0
///      16  u64 N        rows
///      24  u64 nlist    posting lists
///      32  u64 model    bytes of the quantizer's model file
///      40  i64 next id  the id add() gives next
///      48  u64 payload  bytes after the header
///      56  u32 CRC-32 of the payload
///      60  u32 CRC-32 of bytes 0..59
///     payload: the quantizer's model file (model_file.hpp, with its own
///     checksums), codes (N x M uint8), ids (N x i64), centers (nlist x M
///     uint8), each row's list (N x i64, -1 for none).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "index_header.hpp"
#include "model_file.hpp"
#include "rii.hpp"

namespace nanopq_cpp {

/// The first bytes of an index file (a model file's magic with "IDX").
inline constexpr unsigned char kIndexMagic[8] = {0x89, 'N', 'P', 'Q', 'I', 'D', 'X', '\n'};
/// The newest index format this header reads, and the one it writes.
inline constexpr std::uint32_t kIndexFormatVersion = 1;

/// An index with the quantizer of its codes, as an index file holds them.
struct LoadedRii {
    /// The quantizer (a PQ or an OPQ) that encoded the index's vectors.
    AnyQuantizer quantizer;
    /// The index.
    Rii index;
};

/// The index file bytes of `index` and `quantizer`, which must be the
/// quantizer of its codes (the same codewords and metric).
inline std::vector<unsigned char> index_to_bytes(const Rii& index, const AnyQuantizer& quantizer) {
    const ProductQuantizer& pq = detail::inner_pq(quantizer);
    if (!pq.is_fitted() || pq.codewords() != index.codewords() || pq.metric() != index.metric())
        throw ModelFileError("cannot save: the quantizer is not the one of the index's codes");
    const std::vector<unsigned char> model = model_to_bytes(quantizer);
    const std::size_t N = index.size(), M = index.n_subspaces(), n_lists = index.n_lists();
    IndexHeader header;
    header.version = kIndexFormatVersion;
    header.n_rows = N;
    header.n_lists = n_lists;
    header.model = model.size();
    header.next_id = index.next_id();
    header.payload = model.size() + N * M + 8 * N + n_lists * M + 8 * N;
    std::vector<unsigned char> bytes = detail::start_index_file(kIndexMagic, header);
    unsigned char* at = bytes.data() + kModelHeaderBytes;
    std::memcpy(at, model.data(), model.size());
    at += model.size();
    std::memcpy(at, index.codes().data(), N * M);
    at += N * M;
    detail::put_i64s(at, index.ids().data(), N);
    at += 8 * N;
    std::memcpy(at, index.centers().data(), n_lists * M);
    at += n_lists * M;
    const std::vector<std::int64_t> lists = index.row_lists();
    detail::put_i64s(at, lists.data(), N);
    detail::seal_index_file(bytes);
    return bytes;
}

/// The index and quantizer in index file bytes; throws ModelFileError naming
/// `source` for anything malformed (every array is checked, as Rii::restore does).
inline LoadedRii index_from_bytes(const void* data, std::size_t size, const std::string& source = "index bytes") {
    const auto* bytes = static_cast<const unsigned char*>(data);
    const auto fail = [&](const std::string& problem) { detail::model_error(source, problem); };
    const IndexHeader header =
        detail::read_index_header(bytes, size, kIndexMagic, "\\x89NPQIDX\\n", kIndexFormatVersion, "index", source);
    const std::uint64_t N = header.n_rows, n_lists = header.n_lists, model = header.model, payload = header.payload;
    AnyQuantizer quantizer = model_from_bytes(bytes + kModelHeaderBytes, model, source + " (its quantizer)");
    const ProductQuantizer& pq = detail::inner_pq(quantizer);
    const std::uint64_t M = pq.n_subspaces();
    // Each array's size, checked against what is left, in 64 bits.
    std::uint64_t left = payload - model, codes_bytes = 0, ids_bytes = 0, centers_bytes = 0;
    if (!detail::multiply_u64(N, M, codes_bytes) || !detail::multiply_u64(N, 8, ids_bytes) ||
        !detail::multiply_u64(n_lists, M, centers_bytes) || codes_bytes > left || ids_bytes > left - codes_bytes ||
        centers_bytes > left - codes_bytes - ids_bytes || ids_bytes != left - codes_bytes - ids_bytes - centers_bytes)
        fail("the arrays of N=" + std::to_string(N) + ", nlist=" + std::to_string(n_lists) +
             ", M=" + std::to_string(M) + " do not fit the file's " + std::to_string(left) + " bytes");
    const unsigned char* at = bytes + kModelHeaderBytes + model;
    const unsigned char* codes = at;
    std::vector<std::int64_t> ids(static_cast<std::size_t>(N)), lists(static_cast<std::size_t>(N));
    detail::get_i64s(at + codes_bytes, ids.size(), ids.data());
    const unsigned char* centers = at + codes_bytes + ids_bytes;
    detail::get_i64s(centers + centers_bytes, lists.size(), lists.data());
    try {
        Rii index =
            Rii::restore(pq.codewords(), pq.n_subspaces(), pq.n_codewords(), pq.subspace_dim(), pq.metric(), codes,
                         ids.data(), ids.size(), centers, static_cast<std::size_t>(n_lists), lists.data());
        index.set_next_id(header.next_id);
        return LoadedRii{std::move(quantizer), std::move(index)};
    } catch (const std::exception& error) {
        detail::model_error(source, error.what());
    }
}

/// Writes `index` and `quantizer` (the quantizer of its codes) to `path`,
/// replacing it atomically (as save_model does).
inline void save_index(const Rii& index, const AnyQuantizer& quantizer, const std::string& path) {
    detail::write_file(index_to_bytes(index, quantizer), path);
}

/// The index and quantizer in the index file at `path`. The file is read
/// whole: memory peaks at the file's size plus the index's.
inline LoadedRii load_index(const std::string& path) {
    const std::string source = "index file '" + path + "'";
    const std::vector<unsigned char> bytes = detail::read_whole_file(path, source);
    return index_from_bytes(bytes.data(), bytes.size(), source);
}

}  // namespace nanopq_cpp
