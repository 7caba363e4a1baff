#pragma once
/// @file
/// How the quantizers train: the options of ProductQuantizer::fit and
/// OptimizedProductQuantizer::fit (quantizer.hpp), with nanopq's defaults.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common.hpp"

namespace nanopq_cpp {

/// How k-means picks its starting centroids: nanopq's `minit`.
enum class KMeansInit {
    points,    ///< k distinct training points chosen at random (nanopq's default)
    random,    ///< Gaussian with the data's mean and covariance, as kmeans2(minit="random")
    plusplus,  ///< k-means++ (Arthur & Vassilvitskii 2007)
    given,     ///< start from the centroids passed in
};

/// The KMeansInit nanopq names "points", "random" or "++" (and "given");
/// throws std::invalid_argument for another name.
inline KMeansInit kmeans_init_from_name(const std::string& name) {
    if (name == "points") return KMeansInit::points;
    if (name == "random") return KMeansInit::random;
    if (name == "++") return KMeansInit::plusplus;
    if (name == "given") return KMeansInit::given;
    throw std::invalid_argument("minit must be 'points', 'random', '++' or initial codewords, got '" + name + "'");
}

/// How ProductQuantizer::fit trains; the defaults are nanopq's PQ.fit defaults.
struct PQTrainingOptions {
    std::size_t iterations = 20;               ///< k-means (Lloyd) iterations: nanopq's `iter`
    KMeansInit init = KMeansInit::points;      ///< nanopq's `minit`
    const float* initial_codewords = nullptr;  ///< [M][Ks][Ds] starting codewords, with KMeansInit::given
    /// Seeds every random choice: one seed, one model, at any thread count.
    std::uint64_t seed = 123;
    Logger log;  ///< progress lines (nanopq's verbose); empty: silent
};

/// How OPQ trains, for train_opq and OptimizedProductQuantizer::fit alike;
/// the defaults are nanopq's OPQ.fit defaults.
struct OPQTrainingOptions {
    std::size_t pq_iterations = 20;        ///< k-means iterations of the final PQ: nanopq's `pq_iter`
    std::size_t rotation_iterations = 10;  ///< rounds of rotation learning: nanopq's `rotation_iter`
    bool parametric_init = false;          ///< start from eigenvalue allocation instead of the identity
    KMeansInit init = KMeansInit::points;  ///< first round's k-means init: nanopq's `minit`
    /// Seeds every random choice: one seed, one model, at any thread count.
    std::uint64_t seed = 123;
    int num_threads = 0;  ///< 0: the global setting (OptimizedProductQuantizer::fit uses its own)
    Logger log;           ///< progress lines (nanopq's verbose); empty: silent
};

/// The name train_opq's options had before they became one struct with fit's.
using OPQOptions = OPQTrainingOptions;

}  // namespace nanopq_cpp
