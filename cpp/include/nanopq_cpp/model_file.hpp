#pragma once
// Model files: one binary format for trained PQ and OPQ models, written and
// read here and by Python's `pq.save(path)` / `nanopq_cpp.load(path)`, so a
// model trained on one side serves on the other. No pickle: a model file holds
// numbers only, and loading one runs no code.
//
//     nanopq_cpp::save_model(pq, "model.npq");
//     nanopq_cpp::ProductQuantizer pq = nanopq_cpp::load_pq("model.npq");
//     nanopq_cpp::AnyQuantizer any = nanopq_cpp::load_model("model.npq");  // PQ or OPQ
//
// The format is specified in docs/model-format.md, and only there. This file
// is its one writer and reader, for C++ and, through the binding, for Python.
// Loading checks the magic, the version, both checksums, every field and the
// exact file size before it allocates or reads the arrays, and that every
// float is finite; any failure throws ModelFileError naming the file and the
// problem, never reads out of bounds.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "common.hpp"
#include "quantizer.hpp"
#include "version.hpp"

namespace nanopq_cpp {

// A model file (or byte buffer) that cannot be read or written: not a model
// file, truncated, corrupted, of a newer format, or an I/O failure.
class ModelFileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class ModelKind : std::uint32_t { pq = 1, opq = 2 };

inline const char* model_kind_name(ModelKind kind) { return kind == ModelKind::pq ? "PQ" : "OPQ"; }

// The newest format this header reads and the one it writes.
inline constexpr std::uint32_t kModelFormatVersion = 1;
inline constexpr std::size_t kModelHeaderBytes = 64;
// PNG's trick: a byte with the high bit set catches 7-bit transfers, CR LF
// catches newline conversion, 0x1A stops `type` on Windows.
inline constexpr unsigned char kModelMagic[8] = {0x89, 'N', 'P', 'Q', '\r', '\n', 0x1A, '\n'};

// The fields of a model file's header, after validation.
struct ModelHeader {
    std::uint32_t format_version = kModelFormatVersion;
    ModelKind kind = ModelKind::pq;
    Metric metric = Metric::l2;
    std::uint64_t n_subspaces = 0;   // M
    std::uint64_t n_codewords = 0;   // Ks
    std::uint64_t subspace_dim = 0;  // Ds
    std::uint64_t payload_bytes = 0;
    std::uint32_t payload_crc32 = 0;
};

// What load_model returns: the quantizer the file holds.
using AnyQuantizer = std::variant<ProductQuantizer, OptimizedProductQuantizer>;

namespace detail {

struct Crc32Table {
    std::uint32_t entries[256];
};

// Table for the reflected polynomial 0xEDB88320, one byte at a time.
constexpr Crc32Table make_crc32_table() {
    Crc32Table table{};
    for (std::uint32_t byte = 0; byte < 256; ++byte) {
        std::uint32_t value = byte;
        for (int bit = 0; bit < 8; ++bit) value = (value & 1u) ? 0xEDB88320u ^ (value >> 1) : value >> 1;
        table.entries[byte] = value;
    }
    return table;
}

inline constexpr Crc32Table kCrc32Table = make_crc32_table();

}  // namespace detail

// CRC-32 of `size` bytes, continuing from `crc` (0 to start), as zlib.crc32.
inline std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    crc = ~crc;
    for (std::size_t i = 0; i < size; ++i) crc = detail::kCrc32Table.entries[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

namespace detail {

static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4,
              "model files store IEEE-754 binary32 floats");

// Integers are written byte by byte, so the format is little-endian on every host.
inline void put_u32(unsigned char* out, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(value >> (8 * i));
}
inline void put_u64(unsigned char* out, std::uint64_t value) {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(value >> (8 * i));
}
inline std::uint32_t get_u32(const unsigned char* in) {
    std::uint32_t value = 0;
    for (int i = 3; i >= 0; --i) value = (value << 8) | in[i];
    return value;
}
inline std::uint64_t get_u64(const unsigned char* in) {
    std::uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | in[i];
    return value;
}

inline void put_floats(unsigned char* out, const float* values, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, values + i, 4);
        put_u32(out + 4 * i, bits);
    }
}

// Reads `count` floats; returns false if any is NaN or infinite.
inline bool get_finite_floats(const unsigned char* in, std::size_t count, float* values) {
    bool finite = true;
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint32_t bits = get_u32(in + 4 * i);
        std::memcpy(values + i, &bits, 4);
        finite = finite && std::isfinite(values[i]);
    }
    return finite;
}

[[noreturn]] inline void model_error(const std::string& source, const std::string& problem) {
    throw ModelFileError(source + ": " + problem);
}

// a * b in 64 bits, or false on overflow.
inline bool multiply_u64(std::uint64_t a, std::uint64_t b, std::uint64_t& product) {
    if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b) return false;
    product = a * b;
    return true;
}

// Payload bytes for a model's shape, or false if it overflows 64 bits.
inline bool model_payload_bytes(ModelKind kind, std::uint64_t M, std::uint64_t Ks, std::uint64_t Ds,
                                std::uint64_t& bytes) {
    std::uint64_t codeword_floats = 0, dim = 0, rotation_floats = 0;
    if (!multiply_u64(M, Ks, codeword_floats) || !multiply_u64(codeword_floats, Ds, codeword_floats)) return false;
    if (kind == ModelKind::opq) {
        if (!multiply_u64(M, Ds, dim) || !multiply_u64(dim, dim, rotation_floats)) return false;
    }
    if (codeword_floats > std::numeric_limits<std::uint64_t>::max() - rotation_floats) return false;
    return multiply_u64(codeword_floats + rotation_floats, 4, bytes);
}

inline std::string shape_text(std::uint64_t M, std::uint64_t Ks, std::uint64_t Ds) {
    return "M=" + std::to_string(M) + ", Ks=" + std::to_string(Ks) + ", Ds=" + std::to_string(Ds);
}

// Validates the header of a model of `total_size` bytes, of which the first
// `available` (at most kModelHeaderBytes) are in `bytes`. Checks are ordered so
// that each message names the first thing wrong: a foreign file is called
// foreign, not truncated; a newer file is called newer, not corrupted.
inline ModelHeader parse_model_header(const unsigned char* bytes, std::size_t available, std::uint64_t total_size,
                                      const std::string& source) {
    const std::size_t magic_seen = available < sizeof(kModelMagic) ? available : sizeof(kModelMagic);
    if (std::memcmp(bytes, kModelMagic, magic_seen) != 0)
        model_error(source,
                    "not a nanopq_cpp model file (it does not start with the magic bytes \\x89NPQ\\r\\n\\x1a\\n)");
    if (available < 12)
        model_error(source, "truncated: " + std::to_string(total_size) + " bytes, but a model file starts with a " +
                                std::to_string(kModelHeaderBytes) + "-byte header");
    ModelHeader header;
    header.format_version = get_u32(bytes + 8);
    if (header.format_version == 0) model_error(source, "invalid model format version 0");
    if (header.format_version > kModelFormatVersion)
        model_error(source, "model format version " + std::to_string(header.format_version) +
                                " is newer than this nanopq_cpp (" NANOPQ_CPP_VERSION_STRING ") reads (version " +
                                std::to_string(kModelFormatVersion) + " and older); upgrade nanopq_cpp to load it");
    if (available < kModelHeaderBytes)
        model_error(source, "truncated: " + std::to_string(total_size) + " bytes, but a model file starts with a " +
                                std::to_string(kModelHeaderBytes) + "-byte header");
    if (crc32(bytes, 60) != get_u32(bytes + 60)) model_error(source, "corrupted header (checksum mismatch)");

    const std::uint32_t kind = get_u32(bytes + 12), metric = get_u32(bytes + 16), reserved = get_u32(bytes + 20);
    if (kind != 1 && kind != 2)
        model_error(source, "unknown model kind " + std::to_string(kind) + " (1 = PQ, 2 = OPQ)");
    if (metric > 1) model_error(source, "unknown metric " + std::to_string(metric) + " (0 = l2, 1 = dot)");
    if (reserved != 0) model_error(source, "reserved header field is " + std::to_string(reserved) + ", expected 0");
    header.kind = static_cast<ModelKind>(kind);
    header.metric = metric == 0 ? Metric::l2 : Metric::dot;
    header.n_subspaces = get_u64(bytes + 24);
    header.n_codewords = get_u64(bytes + 32);
    header.subspace_dim = get_u64(bytes + 40);
    header.payload_bytes = get_u64(bytes + 48);
    header.payload_crc32 = get_u32(bytes + 56);
    const std::uint64_t M = header.n_subspaces, Ks = header.n_codewords, Ds = header.subspace_dim;
    if (M == 0 || Ks == 0 || Ds == 0)
        model_error(source, "M, Ks and Ds must be positive, got " + shape_text(M, Ks, Ds));
    if (Ks > (1ULL << 32)) model_error(source, "Ks=" + std::to_string(Ks) + " is more than 2**32");
    std::uint64_t expected_payload = 0;
    if (!model_payload_bytes(header.kind, M, Ks, Ds, expected_payload) ||
        expected_payload > std::numeric_limits<std::uint64_t>::max() - kModelHeaderBytes)
        model_error(source, "the model size overflows for " + shape_text(M, Ks, Ds));
    if (header.payload_bytes != expected_payload)
        model_error(source, "inconsistent header: it gives the arrays " + std::to_string(header.payload_bytes) +
                                " bytes, but " + model_kind_name(header.kind) + " " + shape_text(M, Ks, Ds) +
                                " needs " + std::to_string(expected_payload));
    const std::uint64_t expected_size = kModelHeaderBytes + expected_payload;
    if (total_size < expected_size)
        model_error(source, "truncated: " + std::to_string(total_size) + " bytes, but " + model_kind_name(header.kind) +
                                " " + shape_text(M, Ks, Ds) + " takes " + std::to_string(expected_size));
    if (total_size > expected_size)
        model_error(source, std::to_string(total_size - expected_size) + " unexpected bytes after the model (" +
                                std::to_string(expected_size) + " bytes expected)");
    if (expected_payload > std::numeric_limits<std::size_t>::max())
        model_error(source, "the model is too large for this platform's address space");
    return header;
}

// Builds the quantizer from a payload already checked to hold
// header.payload_bytes bytes.
inline AnyQuantizer quantizer_from_payload(const ModelHeader& header, const unsigned char* payload,
                                           const std::string& source) {
    if (crc32(payload, static_cast<std::size_t>(header.payload_bytes)) != header.payload_crc32)
        model_error(source, "corrupted model data (checksum mismatch)");
    const std::size_t M = static_cast<std::size_t>(header.n_subspaces);
    const std::size_t Ks = static_cast<std::size_t>(header.n_codewords);
    const std::size_t Ds = static_cast<std::size_t>(header.subspace_dim);
    std::vector<float> codewords(M * Ks * Ds);
    if (!get_finite_floats(payload, codewords.size(), codewords.data()))
        model_error(source, "the codewords contain NaN or infinity");
    ProductQuantizer pq(M, Ks, Ds, std::move(codewords), header.metric);
    if (header.kind == ModelKind::pq) return pq;
    const std::size_t D = M * Ds;
    std::vector<float> rotation(D * D);
    if (!get_finite_floats(payload + 4 * M * Ks * Ds, rotation.size(), rotation.data()))
        model_error(source, "the rotation contains NaN or infinity");
    return OptimizedProductQuantizer(std::move(rotation), std::move(pq));
}

inline std::vector<unsigned char> model_bytes(ModelKind kind, const ProductQuantizer& pq,
                                              const std::vector<float>* rotation) {
    if (!pq.is_fitted()) throw ModelFileError("cannot save an untrained quantizer: call fit() first");
    const std::vector<float>& codewords = pq.codewords();
    for (float value : codewords)
        if (!std::isfinite(value)) throw ModelFileError("cannot save: the codewords contain NaN or infinity");
    if (rotation)
        for (float value : *rotation)
            if (!std::isfinite(value)) throw ModelFileError("cannot save: the rotation contains NaN or infinity");
    const std::size_t payload = 4 * (codewords.size() + (rotation ? rotation->size() : 0));
    std::vector<unsigned char> bytes(kModelHeaderBytes + payload);
    unsigned char* out = bytes.data();
    std::memcpy(out, kModelMagic, sizeof(kModelMagic));
    put_u32(out + 8, kModelFormatVersion);
    put_u32(out + 12, static_cast<std::uint32_t>(kind));
    put_u32(out + 16, pq.metric() == Metric::l2 ? 0u : 1u);
    put_u32(out + 20, 0);
    put_u64(out + 24, pq.n_subspaces());
    put_u64(out + 32, pq.n_codewords());
    put_u64(out + 40, pq.subspace_dim());
    put_u64(out + 48, payload);
    put_floats(out + kModelHeaderBytes, codewords.data(), codewords.size());
    if (rotation) put_floats(out + kModelHeaderBytes + 4 * codewords.size(), rotation->data(), rotation->size());
    put_u32(out + 56, crc32(out + kModelHeaderBytes, payload));
    put_u32(out + 60, crc32(out, 60));
    return bytes;
}

inline void write_file(const std::vector<unsigned char>& bytes, const std::string& path) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    if (!file) throw ModelFileError("cannot open model file '" + path + "' for writing");
    file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    file.flush();
    if (!file) throw ModelFileError("could not write model file '" + path + "'");
}

// Opens `path` and returns its validated header and size, leaving `file`
// positioned at the payload.
inline ModelHeader open_model_file(const std::string& path, std::ifstream& file, const std::string& source) {
    file.open(path, std::ios::binary);
    if (!file) throw ModelFileError("cannot open model file '" + path + "' for reading");
    file.seekg(0, std::ios::end);
    const std::streamoff end = file.tellg();
    file.seekg(0, std::ios::beg);
    if (end < 0 || !file) model_error(source, "cannot determine the file size");
    const std::uint64_t total_size = static_cast<std::uint64_t>(end);
    unsigned char header_bytes[kModelHeaderBytes] = {};
    const std::size_t available =
        total_size < kModelHeaderBytes ? static_cast<std::size_t>(total_size) : kModelHeaderBytes;
    file.read(reinterpret_cast<char*>(header_bytes), static_cast<std::streamsize>(available));
    if (static_cast<std::size_t>(file.gcount()) != available) model_error(source, "read error in the header");
    return parse_model_header(header_bytes, available, total_size, source);
}

}  // namespace detail

// The model file bytes of a trained quantizer.
inline std::vector<unsigned char> model_to_bytes(const ProductQuantizer& pq) {
    return detail::model_bytes(ModelKind::pq, pq, nullptr);
}
inline std::vector<unsigned char> model_to_bytes(const OptimizedProductQuantizer& opq) {
    if (!opq.is_fitted()) throw ModelFileError("cannot save an untrained quantizer: call fit() first");
    return detail::model_bytes(ModelKind::opq, opq.pq(), &opq.rotation());
}
inline std::vector<unsigned char> model_to_bytes(const AnyQuantizer& quantizer) {
    return std::visit([](const auto& q) { return model_to_bytes(q); }, quantizer);
}

// Writes a trained quantizer to `path` (replacing it). Throws ModelFileError.
inline void save_model(const ProductQuantizer& pq, const std::string& path) {
    detail::write_file(model_to_bytes(pq), path);
}
inline void save_model(const OptimizedProductQuantizer& opq, const std::string& path) {
    detail::write_file(model_to_bytes(opq), path);
}
inline void save_model(const AnyQuantizer& quantizer, const std::string& path) {
    detail::write_file(model_to_bytes(quantizer), path);
}

// The quantizer in a model file held in memory (`size` bytes at `data`).
inline AnyQuantizer model_from_bytes(const void* data, std::size_t size, const std::string& source = "model bytes") {
    if (size > 0 && data == nullptr) throw ModelFileError(source + ": no data");
    const auto* bytes = static_cast<const unsigned char*>(data);
    const std::size_t available = size < kModelHeaderBytes ? size : kModelHeaderBytes;
    const unsigned char empty[1] = {0};
    const ModelHeader header = detail::parse_model_header(size ? bytes : empty, available, size, source);
    return detail::quantizer_from_payload(header, bytes + kModelHeaderBytes, source);
}

// The validated header of the model file at `path` (its arrays are not read,
// so their checksum is not checked).
inline ModelHeader read_model_header(const std::string& path) {
    std::ifstream file;
    return detail::open_model_file(path, file, "model file '" + path + "'");
}

// The quantizer in the model file at `path`: a ProductQuantizer or an
// OptimizedProductQuantizer. Throws ModelFileError.
inline AnyQuantizer load_model(const std::string& path) {
    const std::string source = "model file '" + path + "'";
    std::ifstream file;
    const ModelHeader header = detail::open_model_file(path, file, source);
    std::vector<unsigned char> payload(static_cast<std::size_t>(header.payload_bytes));
    file.read(reinterpret_cast<char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
    if (static_cast<std::size_t>(file.gcount()) != payload.size())
        detail::model_error(source, "read error: the file changed size while being read");
    return detail::quantizer_from_payload(header, payload.data(), source);
}

// The PQ in the model file at `path`; throws ModelFileError if it holds an OPQ.
inline ProductQuantizer load_pq(const std::string& path) {
    AnyQuantizer model = load_model(path);
    if (auto* pq = std::get_if<ProductQuantizer>(&model)) return std::move(*pq);
    throw ModelFileError("model file '" + path + "' holds an OPQ, not a PQ: use load_opq() or load_model()");
}

// The OPQ in the model file at `path`; throws ModelFileError if it holds a PQ.
inline OptimizedProductQuantizer load_opq(const std::string& path) {
    AnyQuantizer model = load_model(path);
    if (auto* opq = std::get_if<OptimizedProductQuantizer>(&model)) return std::move(*opq);
    throw ModelFileError("model file '" + path + "' holds a PQ, not an OPQ: use load_pq() or load_model()");
}

}  // namespace nanopq_cpp
