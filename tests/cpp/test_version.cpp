// Tests for nanopq_cpp/version.hpp: the macros agree with each other.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/version.hpp>

#include <string>

static_assert(NANOPQ_CPP_VERSION ==
                  NANOPQ_CPP_VERSION_MAJOR * 10000 + NANOPQ_CPP_VERSION_MINOR * 100 + NANOPQ_CPP_VERSION_PATCH,
              "NANOPQ_CPP_VERSION is major * 10000 + minor * 100 + patch");

TEST_CASE("the version string spells the version numbers") {
    const std::string expected = std::to_string(NANOPQ_CPP_VERSION_MAJOR) + "." +
                                 std::to_string(NANOPQ_CPP_VERSION_MINOR) + "." +
                                 std::to_string(NANOPQ_CPP_VERSION_PATCH);
    CHECK(std::string(NANOPQ_CPP_VERSION_STRING) == expected);
    CHECK(std::string(nanopq_cpp::version) == expected);
}
