#pragma once
/// @file
/// Model files: one binary format for trained PQ and OPQ models, written and
/// read here and by Python's `pq.save(path)` / `nanopq_cpp.load(path)`, so a
/// model trained on one side serves on the other. No pickle: a model file holds
/// numbers only, and loading one runs no code.
///
///     nanopq_cpp::save_model(pq, "model.npq");
///     nanopq_cpp::ProductQuantizer pq = nanopq_cpp::load_pq("model.npq");
///     nanopq_cpp::AnyQuantizer any = nanopq_cpp::load_model("model.npq");  // PQ or OPQ
///
/// The format is specified in docs/model-format.md, and only there. This file
/// is its one writer and reader, for C++ and, through the binding, for Python.
/// Loading checks the magic, the version, every field and the exact file size
/// from the header, then the payload's checksum while streaming the file in
/// small chunks, before it allocates the arrays; then it reads them, checking
/// every float is finite and the checksum again. So a forged or corrupt file is
/// refused before anything large is allocated, and a good one costs about its
/// own size in memory. Any failure throws ModelFileError naming the file and
/// the problem, never reads out of bounds. Saving writes a temporary file in
/// the same folder, flushes it to disk and renames it over the old one: a
/// failed save leaves the old file as it was.

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <sys/stat.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

#include "common.hpp"
#include "quantizer.hpp"
#include "version.hpp"

namespace nanopq_cpp {

/// A model file (or byte buffer) that cannot be read or written: not a model
/// file, truncated, corrupted, of a newer format, or an I/O failure.
/// I/O failures carry the system's error number (errno: ENOENT, ENOSPC, ...),
/// format problems 0.
class ModelFileError : public std::runtime_error {
public:
    /// An error saying `message`; `system_error` is the errno of a failed system call, or 0.
    explicit ModelFileError(const std::string& message, int system_error = 0)
        : std::runtime_error(message), system_error_(system_error) {}
    /// The errno of the failed system call, or 0.
    int system_error() const noexcept { return system_error_; }

private:
    int system_error_;
};

/// What a model file holds: a PQ or an OPQ (its header's `kind` field).
enum class ModelKind : std::uint32_t { pq = 1, opq = 2 };

/// "PQ" or "OPQ".
inline const char* model_kind_name(ModelKind kind) { return kind == ModelKind::pq ? "PQ" : "OPQ"; }

/// The newest format this header reads and the one it writes.
inline constexpr std::uint32_t kModelFormatVersion = 1;
/// Bytes of a model file's header.
inline constexpr std::size_t kModelHeaderBytes = 64;
/// PNG's trick: a byte with the high bit set catches 7-bit transfers, CR LF
/// catches newline conversion, 0x1A stops `type` on Windows.
inline constexpr unsigned char kModelMagic[8] = {0x89, 'N', 'P', 'Q', '\r', '\n', 0x1A, '\n'};

/// The fields of a model file's header, after validation.
struct ModelHeader {
    /// The format version the file was written with.
    std::uint32_t format_version = kModelFormatVersion;
    /// PQ or OPQ.
    ModelKind kind = ModelKind::pq;
    /// The metric of distances and search.
    Metric metric = Metric::l2;
    std::uint64_t n_subspaces = 0;   ///< M
    std::uint64_t n_codewords = 0;   ///< Ks
    std::uint64_t subspace_dim = 0;  ///< Ds
    /// Bytes after the header: the codewords, then the rotation.
    std::uint64_t payload_bytes = 0;
    /// CRC-32 of those bytes.
    std::uint32_t payload_crc32 = 0;
};

/// What load_model returns: the quantizer the file holds.
using AnyQuantizer = std::variant<ProductQuantizer, OptimizedProductQuantizer>;

namespace detail {

struct Crc32Table {
    std::uint32_t entries[256];
};

/// Table for the reflected polynomial 0xEDB88320, one byte at a time.
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

/// CRC-32 of `size` bytes, continuing from `crc` (0 to start), as zlib.crc32.
inline std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    crc = ~crc;
    for (std::size_t i = 0; i < size; ++i) crc = detail::kCrc32Table.entries[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

namespace detail {

static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4,
              "model files store IEEE-754 binary32 floats");

/// Integers are written byte by byte, so the format is little-endian on every host.
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

/// Reads `count` floats; returns false if any is NaN or infinite.
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

/// a * b in 64 bits, or false on overflow.
inline bool multiply_u64(std::uint64_t a, std::uint64_t b, std::uint64_t& product) {
    if (b != 0 && a > (std::numeric_limits<std::uint64_t>::max)() / b) return false;
    product = a * b;
    return true;
}

/// Payload bytes for a model's shape, or false if it overflows 64 bits.
inline bool model_payload_bytes(ModelKind kind, std::uint64_t M, std::uint64_t Ks, std::uint64_t Ds,
                                std::uint64_t& bytes) {
    std::uint64_t codeword_floats = 0, dim = 0, rotation_floats = 0;
    if (!multiply_u64(M, Ks, codeword_floats) || !multiply_u64(codeword_floats, Ds, codeword_floats)) return false;
    if (kind == ModelKind::opq) {
        if (!multiply_u64(M, Ds, dim) || !multiply_u64(dim, dim, rotation_floats)) return false;
    }
    if (codeword_floats > (std::numeric_limits<std::uint64_t>::max)() - rotation_floats) return false;
    return multiply_u64(codeword_floats + rotation_floats, 4, bytes);
}

inline std::string shape_text(std::uint64_t M, std::uint64_t Ks, std::uint64_t Ds) {
    return "M=" + std::to_string(M) + ", Ks=" + std::to_string(Ks) + ", Ds=" + std::to_string(Ds);
}

/// Validates the header of a model of `total_size` bytes, of which the first
/// `available` (at most kModelHeaderBytes) are in `bytes`. Checks are ordered so
/// that each message names the first thing wrong: a foreign file is called
/// foreign, not truncated; a newer file is called newer, not corrupted.
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
        expected_payload > (std::numeric_limits<std::uint64_t>::max)() - kModelHeaderBytes)
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
    if (expected_payload > (std::numeric_limits<std::size_t>::max)())
        model_error(source, "the model is too large for this platform's address space");
    return header;
}

/// Builds the quantizer from a payload already checked to hold
/// header.payload_bytes bytes.
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

[[noreturn]] inline void io_error(const std::string& what, const std::string& path, int error) {
    throw ModelFileError(what + " model file '" + path + "': " + std::generic_category().message(error), error);
}

/// The file at `path` must be a regular file: opening a FIFO for reading
/// blocks until a writer comes, and a directory or device is no model file.
inline void require_regular_file(const std::string& path, const std::string& source) {
    std::error_code error;
    const std::filesystem::file_status status = std::filesystem::status(path, error);
    if (status.type() == std::filesystem::file_type::not_found) io_error("cannot open", path, ENOENT);
    if (error) io_error("cannot open", path, error.value());
    if (std::filesystem::is_directory(status)) io_error("cannot open", path, EISDIR);
    if (!std::filesystem::is_regular_file(status))
        model_error(source, "not a regular file (a FIFO, socket or device); model files are read from files only");
}

/// A file descriptor closed on every path out.
struct FileDescriptor {
    int fd = -1;
    ~FileDescriptor() {
        if (fd >= 0) close_fd();
    }
    int close_fd() {
#ifdef _WIN32
        const int result = ::_close(fd);
#else
        const int result = ::close(fd);
#endif
        fd = -1;
        return result;
    }
};

inline int create_exclusive(const std::string& path) {
#ifdef _WIN32
    return ::_open(path.c_str(), _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
#else
    return ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
#endif
}

/// Writes all `size` bytes, or returns the errno of the failure.
inline int write_all(int fd, const unsigned char* data, std::size_t size) {
    while (size > 0) {
        const unsigned chunk = static_cast<unsigned>((std::min)(size, std::size_t{1} << 30));
#ifdef _WIN32
        const int written = ::_write(fd, data, chunk);
#else
        const ssize_t written = ::write(fd, data, chunk);
#endif
        if (written < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (written == 0) return EIO;
        data += written;
        size -= static_cast<std::size_t>(written);
    }
    return 0;
}

inline int sync_fd(int fd) {
#ifdef _WIN32
    return ::_commit(fd) == 0 ? 0 : errno;
#else
    return ::fsync(fd) == 0 ? 0 : errno;
#endif
}

/// A name for the temporary file beside `path` that no other writer picks: a
/// random part, and the O_EXCL create retries on a clash.
inline std::string temporary_name(const std::string& path) {
    static std::atomic<std::uint64_t> counter{0};
    std::random_device device;
    const std::uint64_t token = (static_cast<std::uint64_t>(device()) << 32) ^ device() ^ (counter++ << 48);
    static const char digits[] = "0123456789abcdef";
    std::string suffix = ".tmp-";
    for (int shift = 60; shift >= 0; shift -= 4) suffix += digits[(token >> shift) & 0xF];
    return path + suffix;
}

/// Replaces the file at `path` with `bytes`, atomically: the bytes go to a
/// temporary file in the same folder (so the rename stays on one file system),
/// which is flushed to disk and renamed over `path`. On any failure the
/// temporary file is removed and `path` is left as it was. A symbolic link is
/// followed, so the file it points to is replaced, not the link.
inline void write_file(const std::vector<unsigned char>& bytes, const std::string& path) {
    std::error_code error;
    std::filesystem::path target(path);
    if (std::filesystem::is_symlink(std::filesystem::symlink_status(target, error))) {
        const std::filesystem::path resolved = std::filesystem::weakly_canonical(target, error);
        if (!error) target = resolved;
    }
    if (std::filesystem::is_directory(target, error)) io_error("cannot write", path, EISDIR);
    FileDescriptor file;
    std::string temporary;
    for (int attempt = 0; attempt < 16 && file.fd < 0; ++attempt) {
        temporary = temporary_name(target.string());
        file.fd = create_exclusive(temporary);
        if (file.fd < 0 && errno != EEXIST) io_error("cannot open", path, errno);
    }
    if (file.fd < 0) io_error("cannot open", path, EEXIST);
    int failure = write_all(file.fd, bytes.data(), bytes.size());
    if (failure == 0) failure = sync_fd(file.fd);
    if (file.close_fd() != 0 && failure == 0) failure = errno;
    if (failure == 0) {
        std::filesystem::rename(temporary, target, error);
        if (!error) return;
        failure = error.value();
    }
    std::filesystem::remove(temporary, error);
    io_error("could not write", path, failure);
}

/// Reads exactly `size` bytes from `file`, or throws naming `source`.
inline void read_exactly(std::ifstream& file, unsigned char* out, std::size_t size, const std::string& source) {
    file.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(size));
    if (static_cast<std::size_t>(file.gcount()) != size)
        model_error(source, "read error: the file changed size while being read");
}

/// Opens `path` and returns its validated header, leaving `file` positioned
/// at the payload.
inline ModelHeader open_model_file(const std::string& path, std::ifstream& file, const std::string& source) {
    require_regular_file(path, source);
    file.open(path, std::ios::binary);
    if (!file) io_error("cannot open", path, errno ? errno : EIO);
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

/// The payload is streamed in chunks of this size: the only buffer a load
/// holds besides the arrays it builds.
inline constexpr std::size_t kModelChunkBytes = std::size_t{1} << 20;

/// The arrays of a model file, read and checked, before they become a quantizer.
struct ModelArrays {
    ModelHeader header;
    std::vector<float> codewords;  ///< [M][Ks][Ds]
    std::vector<float> rotation;   ///< [D][D] for an OPQ, empty for a PQ
};

/// Reads `count` floats of the payload into `out` (null: only checksums them),
/// chunk by chunk, continuing `crc`; false if one is NaN or infinite.
inline bool stream_floats(std::ifstream& file, std::size_t count, float* out, std::vector<unsigned char>& chunk,
                          std::uint32_t& crc, const std::string& source) {
    bool finite = true;
    const std::size_t floats_per_chunk = chunk.size() / 4;
    for (std::size_t done = 0; done < count;) {
        const std::size_t take = (std::min)(floats_per_chunk, count - done);
        read_exactly(file, chunk.data(), 4 * take, source);
        crc = crc32(chunk.data(), 4 * take, crc);
        if (out) finite = get_finite_floats(chunk.data(), take, out + done) && finite;
        done += take;
    }
    return finite;
}

/// The arrays of the model file at `path`. Two passes over the payload: the
/// first checks its checksum with one chunk of memory, so that a forged header
/// cannot make us allocate what it claims; the second fills the arrays and
/// checks the checksum again, as the file may have changed in between.
inline ModelArrays read_model_arrays(const std::string& path) {
    const std::string source = "model file '" + path + "'";
    std::ifstream file;
    ModelArrays model;
    model.header = open_model_file(path, file, source);
    const ModelHeader& header = model.header;
    const std::size_t M = static_cast<std::size_t>(header.n_subspaces);
    const std::size_t Ks = static_cast<std::size_t>(header.n_codewords);
    const std::size_t Ds = static_cast<std::size_t>(header.subspace_dim);
    const std::size_t n_codeword_floats = M * Ks * Ds;  // no overflow: the header's sizes were checked
    const std::size_t n_rotation_floats = header.kind == ModelKind::opq ? (M * Ds) * (M * Ds) : 0;
    std::vector<unsigned char> chunk(
        static_cast<std::size_t>((std::min<std::uint64_t>)(kModelChunkBytes, header.payload_bytes)));
    std::uint32_t crc = 0;
    stream_floats(file, n_codeword_floats + n_rotation_floats, nullptr, chunk, crc, source);
    if (crc != header.payload_crc32) model_error(source, "corrupted model data (checksum mismatch)");

    file.seekg(static_cast<std::streamoff>(kModelHeaderBytes), std::ios::beg);
    if (!file) model_error(source, "read error: cannot return to the model data");
    crc = 0;
    model.codewords.resize(n_codeword_floats);
    const bool codewords_finite = stream_floats(file, n_codeword_floats, model.codewords.data(), chunk, crc, source);
    model.rotation.resize(n_rotation_floats);
    const bool rotation_finite = stream_floats(file, n_rotation_floats, model.rotation.data(), chunk, crc, source);
    if (crc != header.payload_crc32) model_error(source, "read error: the file changed while being read");
    if (!codewords_finite) model_error(source, "the codewords contain NaN or infinity");
    if (!rotation_finite) model_error(source, "the rotation contains NaN or infinity");
    return model;
}

}  // namespace detail

/// The model file bytes of a trained quantizer.
inline std::vector<unsigned char> model_to_bytes(const ProductQuantizer& pq) {
    return detail::model_bytes(ModelKind::pq, pq, nullptr);
}
/// @overload
inline std::vector<unsigned char> model_to_bytes(const OptimizedProductQuantizer& opq) {
    if (!opq.is_fitted()) throw ModelFileError("cannot save an untrained quantizer: call fit() first");
    return detail::model_bytes(ModelKind::opq, opq.pq(), &opq.rotation());
}
/// @overload
inline std::vector<unsigned char> model_to_bytes(const AnyQuantizer& quantizer) {
    return std::visit([](const auto& q) { return model_to_bytes(q); }, quantizer);
}

/// Writes a trained quantizer to `path`, replacing it atomically (see
/// detail::write_file). Throws ModelFileError, with system_error() set for an
/// I/O failure; the file at `path` is then as it was.
inline void save_model(const ProductQuantizer& pq, const std::string& path) {
    detail::write_file(model_to_bytes(pq), path);
}
/// @overload
inline void save_model(const OptimizedProductQuantizer& opq, const std::string& path) {
    detail::write_file(model_to_bytes(opq), path);
}
/// @overload
inline void save_model(const AnyQuantizer& quantizer, const std::string& path) {
    detail::write_file(model_to_bytes(quantizer), path);
}

/// The quantizer in a model file held in memory (`size` bytes at `data`).
inline AnyQuantizer model_from_bytes(const void* data, std::size_t size, const std::string& source = "model bytes") {
    if (size > 0 && data == nullptr) throw ModelFileError(source + ": no data");
    const auto* bytes = static_cast<const unsigned char*>(data);
    const std::size_t available = size < kModelHeaderBytes ? size : kModelHeaderBytes;
    const unsigned char empty[1] = {0};
    const ModelHeader header = detail::parse_model_header(size ? bytes : empty, available, size, source);
    return detail::quantizer_from_payload(header, bytes + kModelHeaderBytes, source);
}

/// The validated header of the model file at `path` (its arrays are not read,
/// so their checksum is not checked).
inline ModelHeader read_model_header(const std::string& path) {
    std::ifstream file;
    return detail::open_model_file(path, file, "model file '" + path + "'");
}

/// The quantizer in the model file at `path`: a ProductQuantizer or an
/// OptimizedProductQuantizer. Throws ModelFileError.
inline AnyQuantizer load_model(const std::string& path) {
    detail::ModelArrays model = detail::read_model_arrays(path);
    const ModelHeader& header = model.header;
    ProductQuantizer pq(static_cast<std::size_t>(header.n_subspaces), static_cast<std::size_t>(header.n_codewords),
                        static_cast<std::size_t>(header.subspace_dim), std::move(model.codewords), header.metric);
    if (header.kind == ModelKind::pq) return pq;
    return OptimizedProductQuantizer(std::move(model.rotation), std::move(pq));
}

/// The PQ in the model file at `path`; throws ModelFileError if it holds an OPQ.
inline ProductQuantizer load_pq(const std::string& path) {
    AnyQuantizer model = load_model(path);
    if (auto* pq = std::get_if<ProductQuantizer>(&model)) return std::move(*pq);
    throw ModelFileError("model file '" + path + "' holds an OPQ, not a PQ: use load_opq() or load_model()");
}

/// The OPQ in the model file at `path`; throws ModelFileError if it holds a PQ.
inline OptimizedProductQuantizer load_opq(const std::string& path) {
    AnyQuantizer model = load_model(path);
    if (auto* opq = std::get_if<OptimizedProductQuantizer>(&model)) return std::move(*opq);
    throw ModelFileError("model file '" + path + "' holds a PQ, not an OPQ: use load_pq() or load_model()");
}

}  // namespace nanopq_cpp
