#pragma once
// The umbrella header for native users: everything nanopq_cpp offers.

#include "version.hpp"
#include "common.hpp"
#include "threading.hpp"
#include "random.hpp"
#include "linalg.hpp"
#include "statistics.hpp"
#include "simd/level.hpp"
#include "distance.hpp"
#include "codes.hpp"
#include "kmeans.hpp"
#include "pq.hpp"
#include "adc.hpp"
#include "opq.hpp"
#include "quantizer.hpp"
#include "merge.hpp"
#include "model_file.hpp"
