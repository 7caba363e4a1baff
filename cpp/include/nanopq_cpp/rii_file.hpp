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

namespace detail {

inline void put_i64s(unsigned char* out, const std::int64_t* values, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) put_u64(out + 8 * i, static_cast<std::uint64_t>(values[i]));
}

inline const ProductQuantizer& inner_pq(const AnyQuantizer& quantizer) {
    if (const auto* opq = std::get_if<OptimizedProductQuantizer>(&quantizer)) return opq->pq();
    return std::get<ProductQuantizer>(quantizer);
}

}  // namespace detail

/// The index file bytes of `index` and `quantizer`, which must be the
/// quantizer of its codes (the same codewords and metric).
inline std::vector<unsigned char> index_to_bytes(const Rii& index, const AnyQuantizer& quantizer) {
    const ProductQuantizer& pq = detail::inner_pq(quantizer);
    if (!pq.is_fitted() || pq.codewords() != index.codewords() || pq.metric() != index.metric())
        throw ModelFileError("cannot save: the quantizer is not the one of the index's codes");
    const std::vector<unsigned char> model = model_to_bytes(quantizer);
    const std::size_t N = index.size(), M = index.n_subspaces(), n_lists = index.n_lists();
    const std::size_t payload = model.size() + N * M + 8 * N + n_lists * M + 8 * N;
    std::vector<unsigned char> bytes(kModelHeaderBytes + payload);
    unsigned char* out = bytes.data();
    std::memcpy(out, kIndexMagic, sizeof(kIndexMagic));
    detail::put_u32(out + 8, kIndexFormatVersion);
    detail::put_u32(out + 12, 0);
    detail::put_u64(out + 16, N);
    detail::put_u64(out + 24, n_lists);
    detail::put_u64(out + 32, model.size());
    detail::put_u64(out + 40, static_cast<std::uint64_t>(index.next_id()));
    detail::put_u64(out + 48, payload);
    unsigned char* at = out + kModelHeaderBytes;
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
    detail::put_u32(out + 56, crc32(out + kModelHeaderBytes, payload));
    detail::put_u32(out + 60, crc32(out, 60));
    return bytes;
}

/// The index and quantizer in index file bytes; throws ModelFileError naming
/// `source` for anything malformed (every array is checked, as Rii::restore does).
inline LoadedRii index_from_bytes(const void* data, std::size_t size, const std::string& source = "index bytes") {
    const auto* bytes = static_cast<const unsigned char*>(data);
    const auto fail = [&](const std::string& problem) { detail::model_error(source, problem); };
    if (size < sizeof(kIndexMagic) || std::memcmp(bytes, kIndexMagic, sizeof(kIndexMagic)) != 0)
        fail("not a nanopq_cpp index file (it does not start with \\x89NPQIDX\\n)");
    if (size < kModelHeaderBytes) fail("truncated: " + std::to_string(size) + " bytes, less than the header");
    const std::uint32_t version = detail::get_u32(bytes + 8);
    if (version == 0 || version > kIndexFormatVersion)
        fail("index format version " + std::to_string(version) + " is not one this nanopq_cpp reads (1 to " +
             std::to_string(kIndexFormatVersion) + ")");
    if (crc32(bytes, 60) != detail::get_u32(bytes + 60)) fail("corrupted header (checksum mismatch)");
    const std::uint64_t N = detail::get_u64(bytes + 16), n_lists = detail::get_u64(bytes + 24);
    const std::uint64_t model = detail::get_u64(bytes + 32), payload = detail::get_u64(bytes + 48);
    if (payload != size - kModelHeaderBytes)
        fail("the header gives " + std::to_string(payload) + " bytes after it, the file has " +
             std::to_string(size - kModelHeaderBytes));
    if (model > payload) fail("the quantizer's model is larger than the file");
    if (crc32(bytes + kModelHeaderBytes, payload) != detail::get_u32(bytes + 56))
        fail("corrupted index data (checksum mismatch)");
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
    for (std::size_t i = 0; i < ids.size(); ++i)
        ids[i] = static_cast<std::int64_t>(detail::get_u64(at + codes_bytes + 8 * i));
    const unsigned char* centers = at + codes_bytes + ids_bytes;
    for (std::size_t i = 0; i < lists.size(); ++i)
        lists[i] = static_cast<std::int64_t>(detail::get_u64(centers + centers_bytes + 8 * i));
    try {
        Rii index =
            Rii::restore(pq.codewords(), pq.n_subspaces(), pq.n_codewords(), pq.subspace_dim(), pq.metric(), codes,
                         ids.data(), ids.size(), centers, static_cast<std::size_t>(n_lists), lists.data());
        index.set_next_id(static_cast<std::int64_t>(detail::get_u64(bytes + 40)));
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
    detail::require_regular_file(path, source);
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) detail::io_error("cannot open", path, errno);
    const std::streamoff size = file.tellg();
    file.seekg(0);
    std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
    detail::read_exactly(file, bytes.data(), bytes.size(), source);
    return index_from_bytes(bytes.data(), bytes.size(), source);
}

}  // namespace nanopq_cpp
