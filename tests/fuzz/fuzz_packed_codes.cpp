// libFuzzer target for packed codes from untrusted bytes (nanopq_cpp/packed_codes.hpp):
// what PackedCodes(data, N, M, Ks) and Python's unpickling of PackedCodes take.
//
// The property: any bytes and shape either make PackedCodes or throw
// std::invalid_argument, std::out_of_range or std::length_error. Accepted
// codes are all < Ks, and searching them gives exactly what searching their
// unpacked codes gives (the fast scan where this CPU has it), with ids inside
// the rows; the sanitizers catch any read outside the bytes or a table.
//
// Input: byte 0 picks how the shape is read (0: small N and M from bytes 1-3;
// 1: N and M as 64-bit words from bytes 1-16, to reach overflowing sizes),
// then Ks - 1, then the packed bytes.
//
// Built and run by tools/fuzz.sh.

#include <nanopq_cpp/nanopq_cpp.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace np = nanopq_cpp;

namespace {

void fail(const char* what) {
    std::fprintf(stderr, "fuzz_packed_codes: %s\n", what);
    std::abort();
}

std::uint64_t read_u64(const std::uint8_t* data) {
    std::uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | data[i];
    return value;
}

// Searches the packed codes and their unpacked codes with the same tables.
void exercise(const np::PackedCodes& packed) {
    const std::size_t n = packed.rows(), M = packed.n_subspaces(), Ks = packed.n_codewords();
    if (M > 4096 || n * M > (std::size_t{1} << 16)) return;  // too large to search in an iteration
    const std::vector<std::uint8_t> codes = packed.unpack();
    for (std::uint8_t code : codes)
        if (code >= Ks) fail("an accepted packed code is >= Ks");
    const std::size_t n_queries = 2, k = 5;
    std::vector<float> tables(n_queries * M * Ks);
    for (std::size_t i = 0; i < tables.size(); ++i) tables[i] = static_cast<float>((i * 7919) % 1013) * 0.01f;
    std::vector<std::int64_t> packed_ids(n_queries * k), ids(n_queries * k);
    std::vector<float> packed_distances(n_queries * k), distances(n_queries * k);
    np::impl::search_packed(tables.data(), n_queries, packed.view(), k, np::Metric::l2, nullptr, 0, packed_ids.data(),
                            packed_distances.data(), 1);
    np::impl::search(tables.data(), n_queries, M, Ks, codes.data(), n, k, np::Metric::l2, nullptr, 0, ids.data(),
                     distances.data(), 1);
    if (packed_ids != ids || std::memcmp(packed_distances.data(), distances.data(), 4 * distances.size()) != 0)
        fail("searching packed codes differs from searching their codes");
    for (std::int64_t id : ids)
        if (id < -1 || id >= static_cast<std::int64_t>(n)) fail("search returned an id outside the codes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    std::size_t n_rows = 0, n_subspaces = 0, header = 0;
    if ((data[0] & 1u) == 0) {
        n_rows = data[1] % 200;
        n_subspaces = data[2] % 40;
        header = 3;
    } else {
        if (size < 18) return 0;
        n_rows = static_cast<std::size_t>(read_u64(data + 1));
        n_subspaces = static_cast<std::size_t>(read_u64(data + 9));
        header = 17;
    }
    const std::size_t n_codewords = std::size_t{data[header]} + 1;
    std::vector<std::uint8_t> bytes(data + header + 1, data + size);
    try {
        const np::PackedCodes packed(std::move(bytes), n_rows, n_subspaces, n_codewords);
        exercise(packed);
    } catch (const std::invalid_argument&) {
    } catch (const std::out_of_range&) {
    } catch (const std::length_error&) {
    }
    return 0;
}
