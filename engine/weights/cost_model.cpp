#include "engine/weights/cost_model.h"

#include <algorithm>

#include "engine/core/error.h"

namespace strata {

Prediction predict(const CostInputs& in, const Placement& p) {
  const int n = static_cast<int>(p.layers.size());
  const int slots = std::max(1, p.staging_slots);

  // Tokens are simulated until the pipeline is in its steady state; the last one is measured.
  constexpr int kTokens = 4;
  std::vector<double> release;  // per read occurrence: when its staging buffer was freed
  double t = 0, io_free = 0, token_start = 0, stall = 0, io = 0, compute = 0;
  for (int token = 0; token < kTokens; ++token) {
    token_start = t;
    stall = io = compute = 0;
    for (int l = 0; l < n; ++l) {
      if (p.layers[l] == Tier::Ssd) {
        const size_t q = release.size();
        const double slot_free = q >= size_t(slots) ? release[q - slots] : 0.0;
        const double read_s = in.ssd_seconds_per_read + double(in.read_bytes[l]) / in.ssd_bytes_per_s;
        const double read_end = std::max(io_free, slot_free) + read_s;
        io_free = read_end;
        io += read_s;
        stall += std::max(0.0, read_end - t);
        t = std::max(t, read_end) + in.compute_s[l];
        release.push_back(t);
      } else {
        t += in.compute_s[l];
      }
      compute += in.compute_s[l];
    }
    t += in.globals_compute_s;
    compute += in.globals_compute_s;
  }
  Prediction r;
  r.seconds_per_token = t - token_start;
  r.tokens_per_s = r.seconds_per_token > 0 ? 1.0 / r.seconds_per_token : 0;
  r.compute_s = compute;
  r.io_s = io;
  r.stall_s = stall;
  r.hidden_share = io > 0 ? std::clamp(1.0 - stall / io, 0.0, 1.0) : 1.0;
  if (stall <= 0.02 * r.seconds_per_token) r.bound = "compute";
  else if (io >= compute) r.bound = "ssd bandwidth";
  else r.bound = "prefetch depth";  // reads would fit under compute but the pipeline cannot hide them
  return r;
}

PlanChoice choose_placement(const CostInputs& in, const WeightSizes& s, uint64_t ram_budget, int staging_slots) {
  const int n = static_cast<int>(s.resident_bytes.size());
  Placement all_ram = spread_placement(n, 0, 0);
  if (all_ram.ram_bytes(s) <= ram_budget) return {all_ram, predict(in, all_ram)};

  bool any = false;
  PlanChoice best;
  const int lo = staging_slots > 0 ? staging_slots : 1, hi = staging_slots > 0 ? staging_slots : 4;
  for (int slots = lo; slots <= hi; ++slots) {
    // Fewest SSD layers that fit. Each step moves one more layer out of RAM; the spread order
    // changes which ones, so the fit is re-checked rather than computed from sizes.
    for (int k = 1; k <= n; ++k) {
      Placement p = spread_placement(n, k, slots);
      if (p.ram_bytes(s) > ram_budget) continue;
      Prediction pr = predict(in, p);
      // Ties go to fewer staging buffers (less memory for the same speed).
      if (!any || pr.seconds_per_token < best.prediction.seconds_per_token * 0.995) best = {p, pr};
      any = true;
      break;
    }
  }
  if (!any) {
    Placement all_ssd = spread_placement(n, n, lo);
    throw Error(ErrorKind::OutOfMemory, "ram_budget of " + std::to_string(ram_budget) +
                                            " bytes is below the least the tiered store needs: " +
                                            std::to_string(all_ssd.ram_bytes(s)) + " (globals " +
                                            std::to_string(s.globals_bytes) + " + " + std::to_string(lo) +
                                            " staging buffer(s) of " + std::to_string(all_ssd.slot_bytes(s)) + ")");
  }
  return best;
}

}  // namespace strata
