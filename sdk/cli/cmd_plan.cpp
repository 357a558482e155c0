// strata plan --model M --ram-budget X [--gpu-budget Y] [--weights q4g] [--weight-tiers ...]
// Prints the weight placement the tiered store would use, the predicted tokens/s and the
// resource that bounds it, from start-up probes of this machine (one layer read with O_DIRECT,
// one layer's matmuls timed). Loads nothing but the metadata and that one layer.
#include <cstdio>
#include <string>

#include "engine/weights/weight_plan.h"
#include "sdk/cli/commands.h"
#include "sdk/cli/json_out.h"
#include "sdk/cli/offline_model.h"
#include "sdk/cli/weight_flags.h"

namespace strata::cli {
namespace {

struct PlanOptions {
  std::string model;
  int threads = 0;
  bool json = false;
  WeightFlags weights;
};

void run_plan(const PlanOptions& o) {
  const int threads = resolve_threads(o.threads);
  const WeightOptions wo = to_weight_options(o.weights, threads);
  auto m = load_offline_model(o.model);  // mapped, untouched: planning reads through O_DIRECT
  const WeightPlan plan = plan_weights(m.model->file(), m.model->weights(), wo);
  const Placement& p = plan.placement;
  const WeightSizes& s = plan.sizes;
  const Prediction& pr = plan.prediction;
  std::string map;
  for (Tier t : p.layers) map += t == Tier::Ssd ? 'S' : t == Tier::Gpu ? 'G' : 'R';
  const double mib = 1024.0 * 1024.0;
  if (o.json) {
    boost::json::array layers;
    for (Tier t : p.layers) layers.push_back(boost::json::string(tier_name(t)));
    print_json(boost::json::object{
        {"model_file", m.model->file().path()},
        {"model_bytes", s.model_bytes},
        {"ram_budget", plan.ram_budget == UINT64_MAX ? boost::json::value(nullptr) : boost::json::value(plan.ram_budget)},
        {"layers", std::move(layers)},
        {"staging_slots", p.staging_slots},
        {"ram_bytes", p.ram_bytes(s)},
        {"ssd_bytes", p.tier_bytes(s, Tier::Ssd)},
        {"probe", {{"ssd_bytes_per_s", plan.probe.ssd_bytes_per_s},
                   {"ssd_seconds_per_read", plan.probe.ssd_seconds_per_read},
                   {"compute_bytes_per_s", plan.probe.compute_bytes_per_s},
                   {"direct_io", plan.probe.direct_io}}},
        {"prediction", {{"tokens_per_s", pr.tokens_per_s},
                        {"seconds_per_token", pr.seconds_per_token},
                        {"compute_s", pr.compute_s},
                        {"io_s", pr.io_s},
                        {"stall_s", pr.stall_s},
                        {"hidden_io_share", pr.hidden_share},
                        {"bound", pr.bound}}}});
    return;
  }
  std::printf("model %s: %.1f MiB of tensors, %zu layers; ram budget %s\n", m.model->file().path().c_str(),
              s.model_bytes / mib, p.layers.size(),
              plan.ram_budget == UINT64_MAX ? "none" : (std::to_string(plan.ram_budget / (1024 * 1024)) + " MiB").c_str());
  std::printf("probe: ssd %.0f MiB/s (%s, %.2f ms per small read), compute %.0f MiB/s of weights (%d threads)\n",
              plan.probe.ssd_bytes_per_s / mib, plan.probe.direct_io ? "O_DIRECT" : "buffered", plan.probe.ssd_seconds_per_read * 1e3,
              plan.probe.compute_bytes_per_s / mib, threads);
  std::printf("placement: %s  (R ram, S ssd; %d in ram, %d on ssd)\n", map.c_str(), p.count(Tier::Ram), p.count(Tier::Ssd));
  std::printf("ram: %.1f MiB = globals %.1f + layers %.1f + staging %d x %.1f; ssd: %.1f MiB read per token\n",
              p.ram_bytes(s) / mib, s.globals_bytes / mib, p.tier_bytes(s, Tier::Ram) / mib, p.staging_slots,
              p.slot_bytes(s) / mib, p.tier_bytes(s, Tier::Ssd) / mib);
  std::printf("predicted: %.2f tokens/s (%.3f s/token: compute %.3f s, ssd reads %.3f s, stalled %.3f s, %.0f%% of io hidden)\n",
              pr.tokens_per_s, pr.seconds_per_token, pr.compute_s, pr.io_s, pr.stall_s, 100.0 * pr.hidden_share);
  std::printf("bound by: %s\n", pr.bound.c_str());
}

}  // namespace

void add_plan(CLI::App& app) {
  auto o = std::make_shared<PlanOptions>();
  auto* sub = app.add_subcommand("plan", "Show the tiered weight placement, predicted tokens/s and what bounds it");
  sub->add_option("-m,--model", o->model, "GGUF model file")->required();
  sub->add_option("-t,--threads", o->threads, "Threads the decoder will use (default: every core)");
  sub->add_flag("--json", o->json, "Print JSON");
  add_weight_flags(sub, o->weights);
  sub->callback([o] { run_plan(*o); });
}

}  // namespace strata::cli
