#include "engine/weights/weight_plan.h"

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/model.h"
#include "engine/weights/layer_image.h"
#include "engine/weights/memory_ledger.h"
#include "engine/weights/q4g_pack.h"
#include "engine/weights/tiered_weight_store.h"

namespace strata {
namespace {

LayerImage image_of(const gguf::GgufFile& file, std::vector<const TensorRef*> refs) {
  std::vector<TensorRef*> mut;
  std::vector<uint64_t> offsets;
  for (const TensorRef* t : refs) {
    if (!t->data) continue;
    mut.push_back(const_cast<TensorRef*>(t));  // layout only reads them
    offsets.push_back(file.require_tensor(t->name).offset);
  }
  return LayerImage::layout(mut, offsets);
}

}  // namespace

WeightSizes weight_sizes(const gguf::GgufFile& file, const ModelWeights& w, WeightFormat format) {
  WeightSizes s;
  for (const auto& t : file.tensors()) s.model_bytes += t.bytes;
  s.globals_bytes = image_of(file, {&w.token_embd, &w.output, &w.output_norm, &w.output_norm_b}).buffer_bytes;
  for (const LayerWeights& L : w.layers) {
    const LayerImage img = image_of(file, {&L.attn_norm, &L.attn_norm_b, &L.wq, &L.wk, &L.wv, &L.wo, &L.bq, &L.bk, &L.bv,
                                           &L.bo, &L.ffn_norm, &L.ffn_norm_b, &L.ffn_gate, &L.ffn_up, &L.ffn_down});
    uint64_t stored = img.buffer_bytes;
    if (format == WeightFormat::Q4G) {
      std::vector<TensorRef*> refs;
      for (const auto& t : img.tensors) refs.push_back(t.ref);
      stored = packed_layout(refs).buffer_bytes;
      s.load_scratch_bytes = std::max(s.load_scratch_bytes, img.buffer_bytes);
    }
    s.native_bytes.push_back(img.buffer_bytes);
    s.resident_bytes.push_back(stored);
    s.read_bytes.push_back(stored);
  }
  return s;
}

WeightPlan plan_weights(const gguf::GgufFile& file, const ModelWeights& weights, const WeightOptions& options) {
  WeightPlan plan;
  plan.sizes = weight_sizes(file, weights, options.format);
  plan.ram_budget = options.ram_budget.resolve(plan.sizes.model_bytes);
  plan.gpu_budget = options.gpu_budget.resolve(plan.sizes.model_bytes);
  if (weights.layers.empty()) throw Error(ErrorKind::InvalidArgument, file.path() + ": a model without layers has nothing to place");

  {
    MemoryLedger probe_ledger("ram_budget (start-up probe)", plan.ram_budget);
    plan.probe = probe_tiers(file, weights, options.probe_threads, probe_ledger);
  }
  CostInputs& c = plan.costs;
  c.ssd_bytes_per_s = plan.probe.ssd_bytes_per_s;
  c.ssd_seconds_per_read = plan.probe.ssd_seconds_per_read;
  for (size_t l = 0; l < weights.layers.size(); ++l) {
    c.compute_s.push_back(double(plan.sizes.native_bytes[l]) / plan.probe.compute_bytes_per_s);
    c.read_bytes.push_back(plan.sizes.read_bytes[l]);
  }
  c.globals_compute_s = double(weights.output.bytes) / plan.probe.compute_bytes_per_s;

  if (options.shares) {
    plan.placement = place_by_shares(plan.sizes, *options.shares, options.staging_slots, plan.ram_budget);
    plan.prediction = predict(c, plan.placement);
  } else {
    PlanChoice choice = choose_placement(c, plan.sizes, plan.ram_budget, options.staging_slots);
    plan.placement = choice.placement;
    plan.prediction = choice.prediction;
  }
  return plan;
}

std::unique_ptr<WeightStore> open_tiered_store(const gguf::GgufFile& file, ModelWeights& weights, const WeightOptions& options) {
  const WeightPlan plan = plan_weights(file, weights, options);
  TieredStoreSetup setup;
  setup.placement = plan.placement;
  setup.ram_budget = plan.ram_budget;
  setup.format = options.format;
  setup.spill_dir = options.spill_dir;
  return std::make_unique<TieredWeightStore>(file, weights, setup);
}

std::unique_ptr<WeightStore> open_ram_copy(const gguf::GgufFile& file, ModelWeights& weights) {
  TieredStoreSetup setup;
  setup.placement = place_by_shares(weight_sizes(file, weights), TierShares{0, 100, 0}, 0, UINT64_MAX);
  return std::make_unique<TieredWeightStore>(file, weights, setup);
}

}  // namespace strata
