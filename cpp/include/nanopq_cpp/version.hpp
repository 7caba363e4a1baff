#pragma once
/// @file
/// The single source of the version: CMake and the Python package metadata both
/// read it from this file, so the wheel, the CMake package and the headers agree.

#define NANOPQ_CPP_VERSION_MAJOR 0         ///< The major version.
#define NANOPQ_CPP_VERSION_MINOR 1         ///< The minor version.
#define NANOPQ_CPP_VERSION_PATCH 0         ///< The patch version.
#define NANOPQ_CPP_VERSION_STRING "0.1.0"  ///< The version as text.

/// One number for preprocessor tests, e.g. `#if NANOPQ_CPP_VERSION >= 100` for
/// 0.1.0 and later: major * 10000 + minor * 100 + patch.
#define NANOPQ_CPP_VERSION \
    (NANOPQ_CPP_VERSION_MAJOR * 10000 + NANOPQ_CPP_VERSION_MINOR * 100 + NANOPQ_CPP_VERSION_PATCH)

namespace nanopq_cpp {
/// The version as text, NANOPQ_CPP_VERSION_STRING.
inline constexpr const char* version = NANOPQ_CPP_VERSION_STRING;
}  // namespace nanopq_cpp
