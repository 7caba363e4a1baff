#pragma once
/// @file
/// The process-wide settings of the core, which live with the engine (impl/)
/// and are public from here:
///  - get_num_threads(), set_num_threads(n): the threads a call uses when it
///    is given 0 (the default); set_num_threads(0) restores the default,
///    OMP_NUM_THREADS or else every core, at most kMaxThreads. No result
///    depends on it.
///  - SimdLevel (scalar, avx2, avx512, neon), simd_level_name(level),
///    simd_level_from_name(name), simd_level_supported(level),
///    supported_simd_levels(), best_simd_level(), simd_vbmi_supported():
///    which kernels this build and CPU can run.
///  - get_simd_level(), set_simd_level(level): the level in force, the best
///    supported unless the environment variable NANOPQ_CPP_SIMD or
///    set_simd_level chose another. Results are the same at every level.

#include "impl/simd/level.hpp"
#include "impl/threading.hpp"

namespace nanopq_cpp {

using impl::get_num_threads;
using impl::kMaxThreads;
using impl::set_num_threads;

using impl::best_simd_level;
using impl::get_simd_level;
using impl::set_simd_level;
using impl::simd_level_from_name;
using impl::simd_level_name;
using impl::simd_level_supported;
using impl::simd_vbmi_supported;
using impl::SimdLevel;
using impl::supported_simd_levels;

}  // namespace nanopq_cpp
