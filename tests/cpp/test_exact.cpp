// Tests that the core rounds as numpy does, to the bit: adist sums in numpy's
// pairwise order, l2 tables are nanopq's sqrt-then-square of that order, and
// no product is fused into an FMA. The Python tests compare with nanopq
// itself; these pin the order for native users. CMake also builds this file
// with -ffp-contract=fast (and FMA where the CPU has it) as test_exact_contracted:
// the kernels must give the same bits under a compiler free to fuse.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nanopq_cpp/impl/adc.hpp>
#include <nanopq_cpp/impl/pq.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "test_helpers.hpp"

namespace np = nanopq_cpp;

namespace {

// Every operation goes through a volatile, so each is rounded to float on its
// own and nothing is fused or reordered, whatever the compiler flags.
float add(float a, float b) {
    volatile float sum = a + b;
    return sum;
}
float mul(float a, float b) {
    volatile float product = a * b;
    return product;
}

// numpy's pairwise_sum written out from its definition (numpy's
// loops_utils.h.src): < 8 terms in order; <= 128 in eight strided partial
// sums, combined pairwise, then the tail; else two halves, the first a
// multiple of 8. np.sum then adds the result to its identity, 0.0.
float numpy_pairwise(const float* terms, std::size_t n) {
    if (n < 8) {
        float sum = 0.0f;
        for (std::size_t i = 0; i < n; ++i) sum = add(sum, terms[i]);
        return sum;
    }
    if (n <= 128) {
        float r[8];
        for (std::size_t j = 0; j < 8; ++j) r[j] = terms[j];
        std::size_t i = 8;
        while (i + 8 <= n) {
            for (std::size_t j = 0; j < 8; ++j) r[j] = add(r[j], terms[i + j]);
            i += 8;
        }
        float sum = add(add(add(r[0], r[1]), add(r[2], r[3])), add(add(r[4], r[5]), add(r[6], r[7])));
        for (; i < n; ++i) sum = add(sum, terms[i]);
        return sum;
    }
    const std::size_t half = n / 2 - (n / 2) % 8;
    return add(numpy_pairwise(terms, half), numpy_pairwise(terms + half, n - half));
}

float numpy_sum(const float* terms, std::size_t n) { return add(0.0f, numpy_pairwise(terms, n)); }

std::uint32_t bits_of(float value) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}

// Table entries spread over six orders of magnitude, so that the order of the
// additions shows in the last bits.
std::vector<float> wide_range_values(std::size_t n, std::uint64_t seed) {
    std::vector<float> values = test::uniform_vectors(n, 1, seed);
    for (std::size_t i = 0; i < n; ++i) values[i] = values[i] * std::pow(10.0f, static_cast<float>(i % 7) - 3.0f);
    return values;
}

}  // namespace

TEST_CASE("adist sums each code's entries in numpy's pairwise order, to the bit") {
    const std::size_t Ks = 5, n = 64;
    for (std::size_t M : {1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 32, 48, 64, 96, 128, 129, 130, 200, 300, 513}) {
        CAPTURE(M);
        const std::vector<float> table = wide_range_values(M * Ks, M);
        std::vector<std::uint8_t> codes(n * M);
        np::impl::Random random(M, 1);
        for (auto& code : codes) code = static_cast<std::uint8_t>(random.below(Ks));
        std::vector<float> distances(n);
        np::impl::adist(table.data(), 1, M, Ks, codes.data(), n, distances.data());
        std::size_t differing = 0;
        std::vector<float> terms(M);
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t m = 0; m < M; ++m) terms[m] = table[m * Ks + codes[i * M + m]];
            differing += bits_of(distances[i]) != bits_of(numpy_sum(terms.data(), M));
        }
        CHECK(differing == 0);
    }
}

TEST_CASE("the order is numpy's and not another: eight terms combine pairwise") {
    // 1 + 2^-24 rounds back to 1 in float, two of them do not: the grouping shows.
    const float tiny = std::ldexp(1.0f, -24);
    const std::vector<float> table = {1.0f, tiny, tiny, tiny, tiny, tiny, tiny, tiny};
    const std::vector<std::uint8_t> code(8, 0);
    float distance = 0.0f;
    np::impl::adist(table.data(), 1, 8, 1, code.data(), 1, &distance);
    // ((1+t)+(t+t)) + ((t+t)+(t+t)) is 1 + 6t, where adding in order from the
    // left would lose every t into the 1.
    CHECK(distance == add(add(add(1.0f, tiny), add(tiny, tiny)), add(add(tiny, tiny), add(tiny, tiny))));
    CHECK(distance != 1.0f);
}

TEST_CASE("a sum of -0.0 entries is +0.0, as np.sum gives") {
    for (std::size_t M : {3, 8, 130}) {
        const std::vector<float> table(M, -0.0f);
        const std::vector<std::uint8_t> code(M, 0);
        float distance = 1.0f;
        np::impl::adist(table.data(), 1, M, 1, code.data(), 1, &distance);
        CHECK(bits_of(distance) == 0u);
    }
}

TEST_CASE("l2 tables are the square of the rounded root of numpy's sum of squares") {
    const std::size_t Ks = 37;
    for (std::size_t Ds : {1, 2, 3, 7, 8, 9, 12, 16, 17, 33, 128, 129, 200}) {
        CAPTURE(Ds);
        const std::size_t M = 2;
        const std::vector<float> codewords = test::uniform_vectors(M * Ks, Ds, Ds);
        const std::vector<float> query = test::uniform_vectors(1, M * Ds, Ds + 1);
        std::vector<float> table(M * Ks), squares(Ds);
        np::impl::distance_tables(query.data(), 1, np::impl::CodebookView{codewords.data(), M, Ks, Ds}, np::Metric::l2,
                                  table.data());
        std::size_t differing = 0, differing_from_plain_sum = 0;
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t k = 0; k < Ks; ++k) {
                const float* c = &codewords[(m * Ks + k) * Ds];
                for (std::size_t d = 0; d < Ds; ++d) {
                    const float diff = query[m * Ds + d] - c[d];
                    squares[d] = mul(diff, diff);
                }
                const float sum = numpy_sum(squares.data(), Ds);
                volatile float root = std::sqrt(sum);
                differing += bits_of(table[m * Ks + k]) != bits_of(mul(root, root));
                differing_from_plain_sum += bits_of(table[m * Ks + k]) != bits_of(sum);
            }
        CHECK(differing == 0);
        if (Ds > 1) CHECK(differing_from_plain_sum > 0);  // the root and square are not a no-op
    }
}

TEST_CASE("dot tables round every product before adding it, in dimension order") {
    const std::size_t Ks = 29, M = 3;
    for (std::size_t Ds : {1, 4, 8, 13, 64}) {
        CAPTURE(Ds);
        const std::vector<float> codewords = test::uniform_vectors(M * Ks, Ds, 2 * Ds);
        const std::vector<float> query = test::uniform_vectors(1, M * Ds, 2 * Ds + 1);
        std::vector<float> table(M * Ks);
        np::impl::distance_tables(query.data(), 1, np::impl::CodebookView{codewords.data(), M, Ks, Ds}, np::Metric::dot,
                                  table.data());
        std::size_t differing = 0;
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t k = 0; k < Ks; ++k) {
                float sum = 0.0f;
                for (std::size_t d = 0; d < Ds; ++d)
                    sum = add(sum, mul(query[m * Ds + d], codewords[(m * Ks + k) * Ds + d]));
                differing += bits_of(table[m * Ks + k]) != bits_of(sum);
            }
        CHECK(differing == 0);
    }
}
