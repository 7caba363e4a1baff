// The public headers compile, and work, after <windows.h>'s macros
// (windows_macros.hpp): a header-only library is included wherever its users
// include it, and MSVC users routinely include <windows.h> first.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "windows_macros.hpp"  // the standard headers, then the macros, as <windows.h> would leave them

#include <nanopq_cpp/nanopq_cpp.hpp>

TEST_CASE("a PQ trains, encodes and searches with windows.h's macros defined") {
    std::vector<float> vecs(200 * 4);
    for (std::size_t i = 0; i < vecs.size(); ++i) vecs[i] = static_cast<float>((i * 37) % 101) / 101.0f;
    nanopq_cpp::ProductQuantizer pq(2, 16);
    pq.fit(vecs.data(), 200, 4);
    const nanopq_cpp::Codes codes = pq.encode(vecs.data(), 200);
    const nanopq_cpp::SearchResult found = pq.dtable(vecs.data(), 1).search(codes, 3);
    CHECK(found.ids.size() == 3);
    CHECK(min(1, 2) == 1);  // the macros are still in force here
}
