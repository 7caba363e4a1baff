#pragma once
/// @file
/// The umbrella header for native users: the public front end. What impl/
/// holds (the engine, kernels, layouts, k-means, linear algebra, the RNG) is
/// internal and may change between releases; include it directly at your own
/// risk.

#include "version.hpp"
#include "common.hpp"
#include "options.hpp"
#include "runtime.hpp"
#include "codes.hpp"
#include "packed_codes.hpp"
#include "quantizer.hpp"
#include "merge.hpp"
#include "rii.hpp"
#include "rii_file.hpp"
#include "ivfpq.hpp"
#include "ivfpq_file.hpp"
#include "model_file.hpp"
