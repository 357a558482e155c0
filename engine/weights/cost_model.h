// Time per token of a placement, and the search for the best one under a RAM budget.
//
// The model is the store's own pipeline, simulated: layers are computed in order; an SSD-tier
// layer must have been read into a staging buffer first; reads run one after another on one
// I/O thread, each as soon as a staging buffer is free (released when its layer's compute
// ends). Simulating the exact pipeline rather than using max(io, compute) gets the effect of
// the prefetch depth and of where SSD layers sit in the stack right.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/weights/placement.h"

namespace strata {

struct CostInputs {
  std::vector<double> compute_s;  // per layer: seconds of compute per decode step
  double globals_compute_s = 0;   // output matrix and embedding per step
  std::vector<uint64_t> read_bytes;  // per layer: bytes an SSD read moves
  double ssd_bytes_per_s = 1e9;
  double ssd_seconds_per_read = 0;  // fixed cost per read (latency)
};

struct Prediction {
  double seconds_per_token = 0;
  double tokens_per_s = 0;
  double compute_s = 0;  // per token
  double io_s = 0;       // per token, time the I/O thread reads
  double stall_s = 0;    // per token, compute waiting for reads
  double hidden_share = 1;  // of the I/O time, the part overlapped with compute
  std::string bound;        // "compute", "ssd bandwidth", "prefetch depth"
};

Prediction predict(const CostInputs& in, const Placement& p);

struct PlanChoice {
  Placement placement;
  Prediction prediction;
};

// The fastest placement whose RAM (globals + resident layers + staging) fits `ram_budget`:
// for each prefetch depth, as many layers resident as fit, the rest spread over the SSD.
// `staging_slots` > 0 fixes the number of staging buffers. Throws Error(OutOfMemory) when not
// even the globals and one staging buffer fit.
PlanChoice choose_placement(const CostInputs& in, const WeightSizes& s, uint64_t ram_budget, int staging_slots = 0);

}  // namespace strata
