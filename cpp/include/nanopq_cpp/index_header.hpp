#pragma once
/// @file
/// The 64-byte header that index files (rii_file.hpp, ivfpq_file.hpp) share,
/// after their own 8-byte magic (docs/model-format.md):
///
///      8  u32 version
///     12  u32 flags    (0 for Rii; bit 0 is by_residual for IVFPQ)
///     16  u64 N        vectors
///     24  u64 nlist    lists
///     32  u64 model    bytes of the quantizer's model file, first in the payload
///     40  i64 next id  the id add() gives next
///     48  u64 payload  bytes after the header
///     56  u32 CRC-32 of the payload
///     60  u32 CRC-32 of bytes 0..59

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "model_file.hpp"

namespace nanopq_cpp {

/// An index file's header fields (index_header.hpp).
struct IndexHeader {
    std::uint32_t version = 1;  ///< the format version
    std::uint32_t flags = 0;    ///< the kind's flags
    std::uint64_t n_rows = 0;   ///< vectors
    std::uint64_t n_lists = 0;  ///< lists
    std::uint64_t model = 0;    ///< bytes of the embedded model file
    std::int64_t next_id = 0;   ///< the id add() gives next
    std::uint64_t payload = 0;  ///< bytes after the header
};

namespace detail {

inline void put_i64s(unsigned char* out, const std::int64_t* values, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) put_u64(out + 8 * i, static_cast<std::uint64_t>(values[i]));
}

inline void get_i64s(const unsigned char* in, std::size_t count, std::int64_t* values) {
    for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<std::int64_t>(get_u64(in + 8 * i));
}

// A file of the header's size plus its payload, with the header written; the
// caller fills the payload, then seals it (seal_index_file).
inline std::vector<unsigned char> start_index_file(const unsigned char (&magic)[8], const IndexHeader& header) {
    std::vector<unsigned char> bytes(kModelHeaderBytes + header.payload);
    unsigned char* out = bytes.data();
    std::memcpy(out, magic, 8);
    put_u32(out + 8, header.version);
    put_u32(out + 12, header.flags);
    put_u64(out + 16, header.n_rows);
    put_u64(out + 24, header.n_lists);
    put_u64(out + 32, header.model);
    put_u64(out + 40, static_cast<std::uint64_t>(header.next_id));
    put_u64(out + 48, header.payload);
    return bytes;
}

// Writes the checksums once the payload is in place.
inline void seal_index_file(std::vector<unsigned char>& bytes) {
    unsigned char* out = bytes.data();
    put_u32(out + 56, crc32(out + kModelHeaderBytes, bytes.size() - kModelHeaderBytes));
    put_u32(out + 60, crc32(out, 60));
}

// The header of an index file of `kind` ("index", "IVF-PQ index"), its
// magic, sizes and checksums checked; throws ModelFileError naming `source`.
inline IndexHeader read_index_header(const unsigned char* bytes, std::size_t size, const unsigned char (&magic)[8],
                                     const std::string& magic_text, std::uint32_t newest, const std::string& kind,
                                     const std::string& source) {
    const auto fail = [&](const std::string& problem) { model_error(source, problem); };
    if (size < 8 || std::memcmp(bytes, magic, 8) != 0)
        fail("not a nanopq_cpp " + kind + " file (it does not start with " + magic_text + ")");
    if (size < kModelHeaderBytes) fail("truncated: " + std::to_string(size) + " bytes, less than the header");
    IndexHeader header;
    header.version = get_u32(bytes + 8);
    if (header.version == 0 || header.version > newest)
        fail(kind + " format version " + std::to_string(header.version) + " is not one this nanopq_cpp reads (1 to " +
             std::to_string(newest) + ")");
    if (crc32(bytes, 60) != get_u32(bytes + 60)) fail("corrupted header (checksum mismatch)");
    header.flags = get_u32(bytes + 12);
    header.n_rows = get_u64(bytes + 16);
    header.n_lists = get_u64(bytes + 24);
    header.model = get_u64(bytes + 32);
    header.next_id = static_cast<std::int64_t>(get_u64(bytes + 40));
    header.payload = get_u64(bytes + 48);
    if (header.payload != size - kModelHeaderBytes)
        fail("the header gives " + std::to_string(header.payload) + " bytes after it, the file has " +
             std::to_string(size - kModelHeaderBytes));
    if (header.model > header.payload) fail("the quantizer's model is larger than the file");
    if (crc32(bytes + kModelHeaderBytes, header.payload) != get_u32(bytes + 56))
        fail(kind + " data corrupted (checksum mismatch)");
    return header;
}

// The bytes of the file at `path`, read whole.
inline std::vector<unsigned char> read_whole_file(const std::string& path, const std::string& source) {
    require_regular_file(path, source);
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) io_error("cannot open", path, errno);
    const std::streamoff size = file.tellg();
    file.seekg(0);
    std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
    read_exactly(file, bytes.data(), bytes.size(), source);
    return bytes;
}

inline const ProductQuantizer& inner_pq(const AnyQuantizer& quantizer) {
    if (const auto* opq = std::get_if<OptimizedProductQuantizer>(&quantizer)) return opq->pq();
    return std::get<ProductQuantizer>(quantizer);
}

}  // namespace detail

}  // namespace nanopq_cpp
