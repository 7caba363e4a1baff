// A Windows program as MSVC and mingw-w64 users write one: <windows.h> first,
// without NOMINMAX, then our umbrella header. .ci/run cross-compiles it with
// mingw-w64 (and runs it under wine where wine is installed). mingw-w64's
// <windows.h> leaves min and max undefined in C++; MSVC's macros are tested
// everywhere by test_windows_macros.cpp.
#include <windows.h>

#include <nanopq_cpp/nanopq_cpp.hpp>

#include <cstdio>
#include <variant>
#include <vector>

int main() {
    // Packed codes and a model round trip: what a serving program does.
    const std::size_t n = 600, dim = 8;
    std::vector<float> vecs(n * dim);
    for (std::size_t i = 0; i < vecs.size(); ++i) vecs[i] = static_cast<float>((i * 7919) % 1009) / 1009.0f;
    nanopq_cpp::OptimizedProductQuantizer trained(4, 16);
    trained.fit(vecs.data(), n, dim);
    const std::vector<unsigned char> model = nanopq_cpp::model_to_bytes(trained);
    const auto opq =
        std::get<nanopq_cpp::OptimizedProductQuantizer>(nanopq_cpp::model_from_bytes(model.data(), model.size()));
    const nanopq_cpp::PackedCodes packed = opq.pack(opq.encode(vecs.data(), n));
    const nanopq_cpp::SearchResult found = opq.dtable(vecs.data() + 5 * dim, 1).search(packed, 1);
    std::printf("windows consumer: %zu packed bytes; the nearest of row 5 is row %lld\n", packed.nbytes(),
                static_cast<long long>(found.ids[0]));
    return found.ids[0] == 5 ? 0 : 1;
}
