// A Windows program as MSVC and mingw-w64 users write one: <windows.h> first,
// without NOMINMAX, then our umbrella header. .ci/run cross-compiles it with
// mingw-w64 (and runs it under wine where wine is installed). mingw-w64's
// <windows.h> leaves min and max undefined in C++; MSVC's macros are tested
// everywhere by test_windows_macros.cpp.
#include <windows.h>

#include <nanopq_cpp/nanopq_cpp.hpp>

#include <cstdio>
#include <vector>

int main() {
    std::vector<float> vecs(500 * 8);
    for (std::size_t i = 0; i < vecs.size(); ++i) vecs[i] = static_cast<float>((i * 7919) % 1009) / 1009.0f;
    nanopq_cpp::ProductQuantizer pq(4, 16);
    pq.fit(vecs.data(), 500, 8);
    const nanopq_cpp::Codes codes = pq.encode(vecs.data(), 500);
    const nanopq_cpp::SearchResult found = pq.dtable(vecs.data(), 1).search(codes, 3);
    std::printf("windows consumer: the nearest of row 0 is row %lld\n", static_cast<long long>(found.ids[0]));
    return found.ids[0] == 0 ? 0 : 1;
}
