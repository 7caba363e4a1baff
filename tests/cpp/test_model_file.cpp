// Tests for nanopq_cpp/model_file.hpp: the exact bytes of the format (shared
// with tests/test_model_file.py, so C++ and Python agree on them), round
// trips, and a clear ModelFileError for every kind of bad file.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/model_file.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "test_helpers.hpp"

namespace np = nanopq_cpp;
using Bytes = std::vector<unsigned char>;

namespace {

// The model files of two tiny models, as written by Python's
// nanopq_cpp.model_file.to_bytes (tests/test_model_file.py holds the same).
// PQ: M=1, Ks=2, Ds=1, metric dot, codewords [1, -2].
const char* const kGoldenPQ =
    "894e50510d0a1a0a010000000100000001000000000000000100000000000000020000000000000001000000000000000800000000000000"
    "562687c33c14f7040000803f000000c0";
// OPQ: M=1, Ks=2, Ds=1, metric l2, codewords [0.5, -0.25], R = [[-1]].
const char* const kGoldenOPQ =
    "894e50510d0a1a0a010000000200000000000000000000000100000000000000020000000000000001000000000000000c00000000000000"
    "975d475bafe070c80000003f000080be000080bf";

Bytes from_hex(const std::string& hex) {
    Bytes bytes(hex.size() / 2);
    for (std::size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<unsigned char>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    return bytes;
}

np::ProductQuantizer random_pq(std::size_t M, std::size_t Ks, std::size_t Ds, np::Metric metric) {
    return np::ProductQuantizer(M, Ks, Ds, test::uniform_vectors(M * Ks, Ds, 61), metric);
}

np::OptimizedProductQuantizer random_opq(std::size_t M, std::size_t Ks, std::size_t Ds) {
    const std::size_t dim = M * Ds;
    return np::OptimizedProductQuantizer(test::uniform_vectors(dim, dim, 62), random_pq(M, Ks, Ds, np::Metric::l2));
}

// The message of the ModelFileError that loading `bytes` throws ("" if none).
std::string load_error(const Bytes& bytes) {
    try {
        np::model_from_bytes(bytes.data(), bytes.size());
    } catch (const np::ModelFileError& error) {
        return error.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Header edits that keep the header checksum valid, to reach the later checks.
void put_u32(Bytes& bytes, std::size_t offset, std::uint32_t value) { np::detail::put_u32(&bytes[offset], value); }
void put_u64(Bytes& bytes, std::size_t offset, std::uint64_t value) { np::detail::put_u64(&bytes[offset], value); }
void reseal_header(Bytes& bytes) { put_u32(bytes, 60, np::crc32(bytes.data(), 60)); }
void reseal_payload(Bytes& bytes) {
    put_u32(bytes, 56, np::crc32(bytes.data() + np::kModelHeaderBytes, bytes.size() - np::kModelHeaderBytes));
    reseal_header(bytes);
}

// A file in the temp directory, removed at scope exit.
class TempFile {
public:
    TempFile() {
        std::random_device entropy;
        path_ = (std::filesystem::temp_directory_path() /
                 ("nanopq_cpp_test_" + std::to_string(entropy()) + std::to_string(entropy()) + ".npq"))
                    .string();
    }
    ~TempFile() { std::remove(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }
    void write(const Bytes& bytes) const {
        std::ofstream file(path_, std::ios::binary | std::ios::trunc);
        file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }

private:
    std::string path_;
};

}  // namespace

TEST_CASE("crc32 is zlib's CRC-32") {
    const std::string check = "123456789";
    CHECK(np::crc32(check.data(), check.size()) == 0xCBF43926u);
    CHECK(np::crc32(nullptr, 0) == 0u);
    // Continuing from a partial CRC equals one pass.
    CHECK(np::crc32(check.data() + 4, 5, np::crc32(check.data(), 4)) == 0xCBF43926u);
}

TEST_CASE("the bytes of a model file are those the format specifies") {
    const np::ProductQuantizer pq(1, 2, 1, {1.0f, -2.0f}, np::Metric::dot);
    CHECK(np::model_to_bytes(pq) == from_hex(kGoldenPQ));
    const np::OptimizedProductQuantizer opq({-1.0f}, np::ProductQuantizer(1, 2, 1, {0.5f, -0.25f}));
    CHECK(np::model_to_bytes(opq) == from_hex(kGoldenOPQ));

    const Bytes golden = from_hex(kGoldenPQ);
    const np::AnyQuantizer loaded = np::model_from_bytes(golden.data(), golden.size());
    const auto& loaded_pq = std::get<np::ProductQuantizer>(loaded);
    CHECK(loaded_pq.metric() == np::Metric::dot);
    CHECK(loaded_pq.codewords() == std::vector<float>{1.0f, -2.0f});
}

TEST_CASE("PQ models round-trip exactly, for each code width and metric") {
    for (std::size_t Ks : {16, 300, 65536 + 3}) {
        for (np::Metric metric : {np::Metric::l2, np::Metric::dot}) {
            CAPTURE(Ks);
            const np::ProductQuantizer pq = random_pq(2, Ks, 3, metric);
            TempFile file;
            np::save_model(pq, file.path());
            const np::ProductQuantizer loaded = np::load_pq(file.path());
            CHECK(loaded.n_subspaces() == 2);
            CHECK(loaded.n_codewords() == Ks);
            CHECK(loaded.subspace_dim() == 3);
            CHECK(loaded.metric() == metric);
            CHECK(loaded.code_bytes() == np::code_bytes_for(Ks));
            CHECK(test::bitwise_equal(loaded.codewords(), pq.codewords()));
        }
    }
}

TEST_CASE("OPQ models round-trip exactly and encode as before") {
    const np::OptimizedProductQuantizer opq = random_opq(4, 32, 2);
    TempFile file;
    np::save_model(opq, file.path());
    const np::OptimizedProductQuantizer loaded = np::load_opq(file.path());
    CHECK(test::bitwise_equal(loaded.rotation(), opq.rotation()));
    CHECK(test::bitwise_equal(loaded.codewords(), opq.codewords()));
    const std::vector<float> vecs = test::uniform_vectors(100, 8, 63);
    const np::Codes before = opq.encode(vecs.data(), 100), after = loaded.encode(vecs.data(), 100);
    for (std::size_t i = 0; i < 100; ++i)
        for (std::size_t m = 0; m < 4; ++m) CHECK(before.at(i, m) == after.at(i, m));

    const np::AnyQuantizer any = np::load_model(file.path());
    CHECK(std::holds_alternative<np::OptimizedProductQuantizer>(any));
    const np::ModelHeader header = np::read_model_header(file.path());
    CHECK(header.kind == np::ModelKind::opq);
    CHECK(header.n_subspaces == 4);
    CHECK(header.payload_bytes == 4 * (4 * 32 * 2 + 8 * 8));
}

TEST_CASE("load_pq and load_opq refuse the other kind") {
    TempFile pq_file, opq_file;
    np::save_model(random_pq(2, 4, 2, np::Metric::l2), pq_file.path());
    np::save_model(random_opq(2, 4, 2), opq_file.path());
    CHECK_THROWS_WITH_AS(np::load_opq(pq_file.path()), doctest::Contains("holds a PQ"), np::ModelFileError);
    CHECK_THROWS_WITH_AS(np::load_pq(opq_file.path()), doctest::Contains("holds an OPQ"), np::ModelFileError);
}

TEST_CASE("every truncation is reported, from the bytes and from a file") {
    const Bytes full = np::model_to_bytes(random_opq(2, 4, 2));
    for (std::size_t size = 0; size < full.size(); ++size) {
        CAPTURE(size);
        const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(size));
        CHECK(contains(load_error(prefix), "truncated"));
    }
    TempFile file;
    file.write(Bytes(full.begin(), full.end() - 1));
    CHECK_THROWS_WITH_AS(np::load_model(file.path()), doctest::Contains("truncated"), np::ModelFileError);
    CHECK_THROWS_WITH_AS(np::read_model_header(file.path()), doctest::Contains("truncated"), np::ModelFileError);
}

TEST_CASE("foreign files are called foreign") {
    const std::string text = "M,Ks,Ds\n4,256,3\n";
    const Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13};
    const Bytes pickle = {0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0};
    for (const Bytes& bytes : {Bytes(text.begin(), text.end()), png, pickle, Bytes(100, 0)})
        CHECK(contains(load_error(bytes), "not a nanopq_cpp model file"));
    TempFile file;
    file.write(png);
    CHECK_THROWS_WITH_AS(np::load_model(file.path()), doctest::Contains("not a nanopq_cpp model file"),
                         np::ModelFileError);
}

TEST_CASE("a newer format version asks for an upgrade") {
    Bytes bytes = from_hex(kGoldenPQ);
    put_u32(bytes, 8, np::kModelFormatVersion + 1);
    // Not resealed: a newer version may lay out its header differently, so the
    // version is checked before the header checksum.
    const std::string message = load_error(bytes);
    CHECK(contains(message, "version 2 is newer"));
    CHECK(contains(message, "upgrade nanopq_cpp"));
    put_u32(bytes, 8, 0);
    CHECK(contains(load_error(bytes), "invalid model format version 0"));
}

TEST_CASE("corrupted bytes fail their checksum") {
    const Bytes golden = from_hex(kGoldenOPQ);
    for (std::size_t offset : {20, 24, 40, 50, 56}) {
        Bytes bytes = golden;
        bytes[offset] ^= 0x01;
        CHECK(contains(load_error(bytes), "corrupted header"));
    }
    for (std::size_t offset = np::kModelHeaderBytes; offset < golden.size(); ++offset) {
        Bytes bytes = golden;
        bytes[offset] ^= 0x40;
        CHECK(contains(load_error(bytes), "corrupted model data"));
    }
}

TEST_CASE("headers with a valid checksum but impossible fields are refused") {
    const Bytes golden = from_hex(kGoldenPQ);
    auto error_after = [&](auto edit) {
        Bytes bytes = golden;
        edit(bytes);
        reseal_header(bytes);
        return load_error(bytes);
    };
    CHECK(contains(error_after([](Bytes& b) { put_u32(b, 12, 3); }), "unknown model kind 3"));
    CHECK(contains(error_after([](Bytes& b) { put_u32(b, 16, 2); }), "unknown metric 2"));
    CHECK(contains(error_after([](Bytes& b) { put_u32(b, 20, 1); }), "reserved header field"));
    CHECK(contains(error_after([](Bytes& b) { put_u64(b, 24, 0); }), "must be positive"));
    CHECK(contains(error_after([](Bytes& b) { put_u64(b, 32, (1ULL << 32) + 1); }), "more than 2**32"));
    CHECK(contains(error_after([](Bytes& b) { put_u64(b, 48, 12); }), "inconsistent header"));
    // Sizes whose product overflows 64 bits are refused before any allocation.
    CHECK(contains(error_after([](Bytes& b) {
                       put_u64(b, 24, 1ULL << 40);
                       put_u64(b, 32, 1ULL << 30);
                   }),
                   "overflows"));
    CHECK(contains(error_after([](Bytes& b) {
                       put_u32(b, 12, 2);
                       put_u64(b, 40, 1ULL << 33);
                   }),
                   "overflows"));
    // Sizes that fit 64 bits but not the file: truncated, not a huge allocation.
    CHECK(contains(error_after([](Bytes& b) {
                       put_u64(b, 24, 1ULL << 20);
                       put_u64(b, 48, 4ULL * (1ULL << 21));
                   }),
                   "truncated"));
}

TEST_CASE("trailing bytes and non-finite values are refused") {
    Bytes longer = from_hex(kGoldenPQ);
    longer.push_back(0);
    CHECK(contains(load_error(longer), "1 unexpected bytes after the model"));

    Bytes with_nan = from_hex(kGoldenOPQ);
    put_u32(with_nan, np::kModelHeaderBytes, 0x7FC00000u);  // a quiet NaN as the first codeword
    reseal_payload(with_nan);
    CHECK(contains(load_error(with_nan), "codewords contain NaN"));

    Bytes with_infinity = from_hex(kGoldenOPQ);
    put_u32(with_infinity, with_infinity.size() - 4, 0x7F800000u);  // R = [[inf]]
    reseal_payload(with_infinity);
    CHECK(contains(load_error(with_infinity), "rotation contains NaN"));
}

TEST_CASE("I/O failures and untrained models raise ModelFileError") {
    CHECK_THROWS_WITH_AS(np::load_model("/nonexistent/dir/model.npq"), doctest::Contains("cannot open"),
                         np::ModelFileError);
    CHECK_THROWS_WITH_AS(np::save_model(random_pq(1, 2, 1, np::Metric::l2), "/nonexistent/dir/model.npq"),
                         doctest::Contains("cannot open"), np::ModelFileError);
    CHECK_THROWS_WITH_AS(np::model_to_bytes(np::ProductQuantizer(2, 16)), doctest::Contains("untrained"),
                         np::ModelFileError);
    CHECK_THROWS_AS(np::model_to_bytes(np::OptimizedProductQuantizer(2, 16)), np::ModelFileError);
    CHECK_THROWS_AS(np::model_to_bytes(np::ProductQuantizer(1, 2, 1, {0.0f, std::numeric_limits<float>::infinity()})),
                    np::ModelFileError);
    // ModelFileError is a std::runtime_error, for callers that catch broadly.
    CHECK_THROWS_AS(np::model_from_bytes(nullptr, 0), std::runtime_error);
}

TEST_CASE("a save replaces the file whole and leaves no temporary; a failed save leaves the old file") {
    namespace fs = std::filesystem;
    const fs::path folder = fs::temp_directory_path() / ("nanopq_cpp_save_" + std::to_string(std::random_device{}()));
    fs::create_directories(folder);
    const std::string path = (folder / "model.npq").string();
    const np::ProductQuantizer first = random_pq(2, 4, 2, np::Metric::l2),
                               second = random_pq(3, 16, 2, np::Metric::dot);
    np::save_model(first, path);
    np::save_model(second, path);
    CHECK(np::model_to_bytes(np::load_model(path)) == np::model_to_bytes(second));
    CHECK(std::distance(fs::directory_iterator(folder), fs::directory_iterator()) == 1);

    // Saving over a directory fails with its errno and touches nothing.
    const fs::path sub = folder / "sub";
    fs::create_directory(sub);
    try {
        np::save_model(first, sub.string());
        FAIL("saving over a directory must throw");
    } catch (const np::ModelFileError& error) {
        CHECK(error.system_error() == EISDIR);
    }
    CHECK(fs::is_directory(sub));
    CHECK(std::distance(fs::directory_iterator(folder), fs::directory_iterator()) == 2);
    CHECK(np::model_to_bytes(np::load_model(path)) == np::model_to_bytes(second));
    fs::remove_all(folder);
}

TEST_CASE("loading something that is not a regular file is refused at once") {
    namespace fs = std::filesystem;
    try {
        np::load_model(fs::temp_directory_path().string());
        FAIL("loading a directory must throw");
    } catch (const np::ModelFileError& error) {
        CHECK(error.system_error() == EISDIR);
    }
    try {
        np::load_model("/nonexistent/dir/model.npq");
        FAIL("loading a missing file must throw");
    } catch (const np::ModelFileError& error) {
        CHECK(error.system_error() == ENOENT);
    }
#ifndef _WIN32
    if (fs::exists("/dev/null"))  // a character device, as a FIFO is no regular file
        CHECK_THROWS_WITH_AS(np::load_model("/dev/null"), doctest::Contains("not a regular file"), np::ModelFileError);
#endif
}
