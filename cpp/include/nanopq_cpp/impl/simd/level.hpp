#pragma once
// Which instruction set the kernels use. One binary serves every CPU: kernels
// for each level are compiled in (with per-function target attributes, never
// -march=native) and one is chosen at run time, once per call. The choice can
// be forced with the environment variable NANOPQ_CPP_SIMD or set_simd_level(),
// so tests can run every level this CPU supports against the scalar reference.

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#define NANOPQ_CPP_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define NANOPQ_CPP_ARM64 1
#endif

namespace nanopq_cpp::impl {

enum class SimdLevel { scalar, avx2, avx512, neon };

inline const char* simd_level_name(SimdLevel level) {
    switch (level) {
        case SimdLevel::avx2: return "avx2";
        case SimdLevel::avx512: return "avx512";
        case SimdLevel::neon: return "neon";
        default: return "scalar";
    }
}

inline SimdLevel simd_level_from_name(const std::string& name) {
    for (SimdLevel level : {SimdLevel::scalar, SimdLevel::avx2, SimdLevel::avx512, SimdLevel::neon})
        if (name == simd_level_name(level)) return level;
    throw std::invalid_argument("SIMD level must be one of scalar, avx2, avx512, neon; got '" + name + "'");
}

#if defined(NANOPQ_CPP_X86)
struct X86Features {
    bool avx2_fma = false;
    bool avx512 = false;
    bool avx512_vbmi = false;  // vpermi2b: the 8-bit fast scan; with BMI2 (every such CPU has it)
    bool amd = false;
};

inline X86Features detect_x86() {
    X86Features features;
#if defined(_MSC_VER) && !defined(__clang__)
    int info[4];
    __cpuid(info, 0);
    const int max_leaf = info[0];
    features.amd = info[1] == 0x68747541;  // "Auth" of "AuthenticAMD"
    if (max_leaf < 7) return features;
    __cpuid(info, 1);
    const bool osxsave = (info[2] >> 27) & 1, fma = (info[2] >> 12) & 1;
    if (!osxsave) return features;
    const unsigned long long xcr0 = _xgetbv(0);
    const bool ymm_state = (xcr0 & 0x6) == 0x6, zmm_state = (xcr0 & 0xE6) == 0xE6;
    __cpuidex(info, 7, 0);
    const bool avx2 = (info[1] >> 5) & 1, avx512f = (info[1] >> 16) & 1, avx512bw = (info[1] >> 30) & 1;
    features.avx2_fma = avx2 && fma && ymm_state;
    features.avx512 = features.avx2_fma && avx512f && avx512bw && zmm_state;
    const bool bmi2 = (info[1] >> 8) & 1, vbmi = (info[2] >> 1) & 1;
    features.avx512_vbmi = features.avx512 && vbmi && bmi2;
#else
    __builtin_cpu_init();
    features.amd = __builtin_cpu_is("amd");
    features.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    features.avx512 = features.avx2_fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    features.avx512_vbmi = features.avx512 && __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("bmi2");
#endif
    return features;
}
#endif

// True when this build has kernels for `level` and this CPU can run them.
inline bool simd_level_supported(SimdLevel level) {
    switch (level) {
        case SimdLevel::scalar: return true;
#if defined(NANOPQ_CPP_X86)
        case SimdLevel::avx2: {
            static const bool supported = detect_x86().avx2_fma;
            return supported;
        }
        case SimdLevel::avx512: {
            static const bool supported = detect_x86().avx512;
            return supported;
        }
#endif
#if defined(NANOPQ_CPP_ARM64)
        case SimdLevel::neon: return true;
#endif
        default: return false;
    }
}

// True when the CPU also has AVX-512 VBMI (and BMI2), which the avx512
// level's 8-bit fast-scan kernel needs; false on every other platform.
inline bool simd_vbmi_supported() {
#if defined(NANOPQ_CPP_X86)
    static const bool supported = detect_x86().avx512_vbmi;
    return supported;
#else
    return false;
#endif
}

inline std::vector<SimdLevel> supported_simd_levels() {
    std::vector<SimdLevel> levels;
    for (SimdLevel level : {SimdLevel::scalar, SimdLevel::avx2, SimdLevel::avx512, SimdLevel::neon})
        if (simd_level_supported(level)) levels.push_back(level);
    return levels;
}

// The level used unless told otherwise: the widest supported. (On AMD the
// avx512 row keeps AVX2's kernels where those measured faster; see
// dispatch.hpp.)
inline SimdLevel best_simd_level() { return supported_simd_levels().back(); }

// The environment's request when it names a supported level; otherwise the best.
inline SimdLevel initial_simd_level() {
    if (const char* requested = std::getenv("NANOPQ_CPP_SIMD")) {
        try {
            const SimdLevel level = simd_level_from_name(requested);
            if (simd_level_supported(level)) return level;
        } catch (const std::invalid_argument&) {
        }
    }
    return best_simd_level();
}

inline std::atomic<SimdLevel>& simd_level_setting() {
    static std::atomic<SimdLevel> setting{initial_simd_level()};
    return setting;
}

inline SimdLevel get_simd_level() { return simd_level_setting().load(); }

// Forces a level for later calls; throws std::invalid_argument if unsupported here.
inline void set_simd_level(SimdLevel level) {
    if (!simd_level_supported(level))
        throw std::invalid_argument(std::string("SIMD level '") + simd_level_name(level) +
                                    "' is not supported by this CPU or build");
    simd_level_setting().store(level);
}

}  // namespace nanopq_cpp::impl
