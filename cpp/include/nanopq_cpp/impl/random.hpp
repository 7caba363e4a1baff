#pragma once
// A seeded generator whose output is fixed by this file alone. std::mt19937 is
// portable but std::*_distribution is not (libstdc++, libc++ and MSVC differ),
// so we derive integers and normals ourselves: the same seed gives the same
// codewords on every platform.

#include <cmath>
#include <cstdint>

namespace nanopq_cpp::impl {

// splitmix64 (Steele, Lea, Flood 2014): used to spread a user seed over the
// generator state, and to derive independent streams per subspace.
inline std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna 2018).
class Random {
public:
    // `stream` separates generators that share a seed (one per subspace), so
    // subspaces can train in any order or in parallel with the same result.
    explicit Random(std::uint64_t seed, std::uint64_t stream = 0) {
        std::uint64_t mix = seed ^ (0xD1B54A32D192ED03ULL * (stream + 1));
        for (auto& word : state_) word = splitmix64(mix);
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

    // Uniform in [0, bound) without modulo bias (Lemire 2019, with rejection).
    std::uint64_t below(std::uint64_t bound) {
        if (bound <= 1) return 0;
        const std::uint64_t threshold = (0 - bound) % bound;
        for (;;) {
            std::uint64_t x = next();
            // 128-bit multiply split into halves to stay within standard C++.
            std::uint64_t x_hi = x >> 32, x_lo = x & 0xFFFFFFFFULL;
            std::uint64_t b_hi = bound >> 32, b_lo = bound & 0xFFFFFFFFULL;
            std::uint64_t lo_lo = x_lo * b_lo, hi_lo = x_hi * b_lo, lo_hi = x_lo * b_hi, hi_hi = x_hi * b_hi;
            std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFULL) + lo_hi;
            std::uint64_t high = (hi_lo >> 32) + (cross >> 32) + hi_hi;
            std::uint64_t low = (cross << 32) | (lo_lo & 0xFFFFFFFFULL);
            if (low >= threshold) return high;
        }
    }

    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

    // Standard normal by the Box-Muller transform; one value per call keeps the
    // sequence simple to reason about.
    double normal() {
        double u1 = 1.0 - uniform();  // (0, 1], so the log is finite
        double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t state_[4];
};

}  // namespace nanopq_cpp::impl
