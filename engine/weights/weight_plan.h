// From options to a placement: sizes of every layer, start-up probes, and either the explicit
// shares or the cost model's choice under the budgets. Used by Model::load and `strata plan`.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/weights/cost_model.h"
#include "engine/weights/placement.h"
#include "engine/weights/tier_probe.h"
#include "engine/weights/weight_options.h"

namespace strata {

namespace gguf {
class GgufFile;
}
struct ModelWeights;
class WeightStore;

struct WeightPlan {
  WeightSizes sizes;
  TierProbe probe;
  CostInputs costs;
  Placement placement;
  Prediction prediction;
  uint64_t ram_budget = UINT64_MAX;  // resolved; UINT64_MAX: none
  uint64_t gpu_budget = UINT64_MAX;
};

// Sizes of the globals and of each layer as the store would hold them.
WeightSizes weight_sizes(const gguf::GgufFile& file, const ModelWeights& weights, WeightFormat format = WeightFormat::Native);

WeightPlan plan_weights(const gguf::GgufFile& file, const ModelWeights& weights, const WeightOptions& options);

// The tiered store for `weights` (which it takes over), placed by plan_weights.
std::unique_ptr<WeightStore> open_tiered_store(const gguf::GgufFile& file, ModelWeights& weights,
                                               const WeightOptions& options);

// Every layer and the globals copied into RAM-tier buffers (huge pages), with no probe and no
// budget: what a plain load does when it does not map the file (weight_residency.h).
std::unique_ptr<WeightStore> open_ram_copy(const gguf::GgufFile& file, ModelWeights& weights);

}  // namespace strata
