#pragma once
/// @file
/// IVF-PQ index files: an IVFPQ (ivfpq.hpp) in one versioned, checksummed
/// file that Python (`IVFPQ.save`, `IVFPQ.load`) and C++ read and write
/// alike. docs/model-format.md specifies the layout: the magic bytes
/// 0x89 N P Q I V F 0x0A, the header of index_header.hpp (flags bit 0:
/// by_residual), then the payload: the fine quantizer's model file (a PQ,
/// with its own checksums), the coarse centroids (nlist x D float32), each
/// list's size (nlist x u64), then, list after list, the ids (N x i64) and
/// the codes (N x M values of 1, 2 or 4 bytes, as Ks needs). Little-endian.

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "index_header.hpp"
#include "ivfpq.hpp"
#include "model_file.hpp"

namespace nanopq_cpp {

/// The first bytes of an IVF-PQ index file.
inline constexpr unsigned char kIvfpqMagic[8] = {0x89, 'N', 'P', 'Q', 'I', 'V', 'F', '\n'};
/// The newest IVF-PQ file format this header reads, and the one it writes.
inline constexpr std::uint32_t kIvfpqFormatVersion = 1;

/// The file bytes of a trained `index`.
inline std::vector<unsigned char> ivfpq_to_bytes(const IVFPQ& index) {
    if (!index.is_trained()) throw ModelFileError("cannot save: the index is not trained");
    const std::vector<unsigned char> model = model_to_bytes(index.pq());
    const std::size_t N = index.size(), n_lists = index.n_lists(), D = index.dim();
    const std::size_t code_bytes = index.pq().code_bytes(), M = index.n_subspaces();
    IndexHeader header;
    header.version = kIvfpqFormatVersion;
    header.flags = index.by_residual() ? 1u : 0u;
    header.n_rows = N;
    header.n_lists = n_lists;
    header.model = model.size();
    header.next_id = index.next_id();
    header.payload = model.size() + 4 * n_lists * D + 8 * n_lists + 8 * N + N * M * code_bytes;
    std::vector<unsigned char> bytes = detail::start_index_file(kIvfpqMagic, header);
    unsigned char* at = bytes.data() + kModelHeaderBytes;
    std::memcpy(at, model.data(), model.size());
    at += model.size();
    detail::put_floats(at, index.centroids().data(), n_lists * D);
    at += 4 * n_lists * D;
    for (std::size_t l = 0; l < n_lists; ++l) detail::put_u64(at + 8 * l, index.list_size(l));
    unsigned char* ids = at + 8 * n_lists;
    unsigned char* codes = ids + 8 * N;
    for (std::size_t l = 0; l < n_lists; ++l) {
        const std::vector<std::int64_t>& list_ids = index.list_ids(l);
        detail::put_i64s(ids, list_ids.data(), list_ids.size());
        ids += 8 * list_ids.size();
        index.list_codes(l).visit([&](const auto* data) {
            for (std::size_t i = 0; i < list_ids.size() * M; ++i, codes += code_bytes)
                for (std::size_t b = 0; b < code_bytes; ++b)
                    codes[b] = static_cast<unsigned char>(static_cast<std::uint64_t>(data[i]) >> (8 * b));
        });
    }
    detail::seal_index_file(bytes);
    return bytes;
}

/// The index in IVF-PQ file bytes; throws ModelFileError naming `source`
/// for anything malformed (every array is checked, as IVFPQ::add_encoded does).
inline IVFPQ ivfpq_from_bytes(const void* data, std::size_t size, const std::string& source = "IVF-PQ bytes") {
    const auto* bytes = static_cast<const unsigned char*>(data);
    const auto fail = [&](const std::string& problem) { detail::model_error(source, problem); };
    const IndexHeader header = detail::read_index_header(bytes, size, kIvfpqMagic, "\\x89NPQIVF\\n",
                                                         kIvfpqFormatVersion, "IVF-PQ index", source);
    if (header.flags > 1) fail("unknown flags " + std::to_string(header.flags));
    const AnyQuantizer quantizer = model_from_bytes(bytes + kModelHeaderBytes, header.model, source + " (its PQ)");
    if (!std::holds_alternative<ProductQuantizer>(quantizer)) fail("its fine quantizer is not a PQ");
    const ProductQuantizer& pq = std::get<ProductQuantizer>(quantizer);
    const std::uint64_t N = header.n_rows, n_lists = header.n_lists, M = pq.n_subspaces(), D = pq.dim();
    const std::uint64_t code_bytes = pq.code_bytes();
    // Each array's size, checked against what is left, in 64 bits.
    std::uint64_t centroid_bytes = 0, size_bytes = 0, id_bytes = 0, codes_bytes = 0;
    const std::uint64_t left = header.payload - header.model;
    if (!detail::multiply_u64(n_lists, 4 * D, centroid_bytes) || !detail::multiply_u64(n_lists, 8, size_bytes) ||
        !detail::multiply_u64(N, 8, id_bytes) || !detail::multiply_u64(N, M * code_bytes, codes_bytes) ||
        centroid_bytes > left || size_bytes > left - centroid_bytes || id_bytes > left - centroid_bytes - size_bytes ||
        codes_bytes != left - centroid_bytes - size_bytes - id_bytes)
        fail("the arrays of N=" + std::to_string(N) + ", nlist=" + std::to_string(n_lists) +
             ", M=" + std::to_string(M) + ", D=" + std::to_string(D) + " do not fit the file's " +
             std::to_string(left) + " bytes");
    const unsigned char* at = bytes + kModelHeaderBytes + header.model;
    std::vector<float> centroids(static_cast<std::size_t>(n_lists * D));
    if (!detail::get_finite_floats(at, centroids.size(), centroids.data()))
        fail("the coarse centroids hold NaN or infinity");
    at += centroid_bytes;
    std::vector<std::uint32_t> lists(static_cast<std::size_t>(N));
    std::uint64_t filled = 0;
    for (std::uint64_t l = 0; l < n_lists; ++l) {
        const std::uint64_t count = detail::get_u64(at + 8 * l);
        if (count > N - filled) fail("the list sizes add up to more than N = " + std::to_string(N));
        std::fill_n(lists.begin() + static_cast<std::ptrdiff_t>(filled), count, static_cast<std::uint32_t>(l));
        filled += count;
    }
    if (filled != N) fail("the list sizes add up to " + std::to_string(filled) + ", not N = " + std::to_string(N));
    at += size_bytes;
    std::vector<std::int64_t> ids(static_cast<std::size_t>(N));
    detail::get_i64s(at, ids.size(), ids.data());
    at += id_bytes;
    Codes codes(static_cast<std::size_t>(N), static_cast<std::size_t>(M), static_cast<std::size_t>(code_bytes));
    codes.visit([&](auto* out) {
        using code_t = std::remove_pointer_t<decltype(out)>;
        for (std::size_t i = 0; i < codes.size(); ++i, at += code_bytes) {
            std::uint64_t value = 0;
            for (std::size_t b = 0; b < code_bytes; ++b) value |= static_cast<std::uint64_t>(at[b]) << (8 * b);
            out[i] = static_cast<code_t>(value);
        }
    });
    try {
        IVFPQ index(pq, std::move(centroids), static_cast<std::size_t>(n_lists), (header.flags & 1u) != 0);
        index.add_encoded(lists.data(), codes, ids.data());
        index.set_next_id(header.next_id);
        return index;
    } catch (const std::exception& error) {
        detail::model_error(source, error.what());
    }
}

/// Writes a trained `index` to `path`, replacing it atomically (as save_model does).
inline void save_ivfpq(const IVFPQ& index, const std::string& path) { detail::write_file(ivfpq_to_bytes(index), path); }

/// The index in the IVF-PQ file at `path`. The file is read whole: memory
/// peaks at the file's size plus the index's.
inline IVFPQ load_ivfpq(const std::string& path) {
    const std::string source = "IVF-PQ file '" + path + "'";
    const std::vector<unsigned char> bytes = detail::read_whole_file(path, source);
    return ivfpq_from_bytes(bytes.data(), bytes.size(), source);
}

}  // namespace nanopq_cpp
