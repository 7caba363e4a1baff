// libFuzzer target for the model-file reader (nanopq_cpp/model_file.hpp).
//
// The property: any bytes either load a quantizer or throw ModelFileError.
// A loaded quantizer writes back to exactly the bytes it came from (the reader
// accepts one spelling of each model) and can encode, decode and search; the
// sanitizers catch any read outside the bytes or any undefined behaviour.
//
// The first input byte picks a mode, the rest is the file. In mode 1 the
// harness writes correct checksums into the header before reading, so the
// fuzzer gets past both CRCs (which it would almost never guess) and
// exercises the checks of shapes, sizes and values behind them.
//
// Built and run by tools/fuzz.sh:
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I cpp/include tests/fuzz/fuzz_model_file.cpp

#include <nanopq_cpp/model_file.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <variant>
#include <vector>

namespace np = nanopq_cpp;

namespace {

void fail(const char* what) {
    std::fprintf(stderr, "fuzz_model_file: %s\n", what);
    std::abort();
}

// Writes the payload and header checksums that make the header consistent.
void fix_checksums(std::vector<unsigned char>& file) {
    if (file.size() < np::kModelHeaderBytes) return;
    const std::uint32_t payload_crc =
        np::crc32(file.data() + np::kModelHeaderBytes, file.size() - np::kModelHeaderBytes);
    np::detail::put_u32(file.data() + 56, payload_crc);
    np::detail::put_u32(file.data() + 60, np::crc32(file.data(), 60));
}

// Uses a loaded quantizer the way a search service would. Models too large to
// use in a fuzzing iteration are only loaded.
template <class Quantizer>
void exercise(Quantizer& quantizer) {
    const std::size_t dim = quantizer.dim();
    if (dim == 0 || dim > 256 || quantizer.n_codewords() > 4096) return;
    std::vector<float> vecs(3 * dim);
    for (std::size_t i = 0; i < vecs.size(); ++i) vecs[i] = static_cast<float>(i % 7) - 3.0f;
    quantizer.set_num_threads(1);
    const np::Codes codes = quantizer.encode(vecs.data(), 3);
    for (std::size_t row = 0; row < codes.rows(); ++row)
        for (std::size_t m = 0; m < codes.n_subspaces(); ++m)
            if (codes.at(row, m) >= quantizer.n_codewords()) fail("encode wrote a code >= Ks");
    const std::vector<float> decoded = quantizer.decode(codes);
    if (decoded.size() != vecs.size()) fail("decode returned the wrong size");
    const np::DistanceTables tables = quantizer.dtable(vecs.data(), 2);
    const std::vector<float> distances = tables.adist(codes);
    if (distances.size() != 2 * codes.rows()) fail("adist returned the wrong size");
    const np::SearchResult found = tables.search(codes, 2);
    for (std::int64_t id : found.ids)
        if (id < -1 || id >= static_cast<std::int64_t>(codes.rows())) fail("search returned an id outside the codes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool with_checksums = (data[0] & 1u) != 0;
    std::vector<unsigned char> file(data + 1, data + size);
    if (with_checksums) fix_checksums(file);
    np::AnyQuantizer model;
    try {
        // From a buffer of exactly the file's size, so ASan sees any read past its end.
        unsigned char* exact = file.empty() ? nullptr : static_cast<unsigned char*>(std::malloc(file.size()));
        if (!file.empty()) std::memcpy(exact, file.data(), file.size());
        try {
            model = np::model_from_bytes(exact, file.size(), "fuzz input");
        } catch (...) {
            std::free(exact);
            throw;
        }
        std::free(exact);
    } catch (const np::ModelFileError&) {
        return 0;  // refused, as it should be for anything but a valid model file
    }
    const std::vector<unsigned char> written = np::model_to_bytes(model);
    if (written != file) fail("a model was accepted that does not write back to the same bytes");
    std::visit([](auto& quantizer) { exercise(quantizer); }, model);
    return 0;
}
