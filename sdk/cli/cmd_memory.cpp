// strata memory --model MODEL [--ctx N,N,...] [--kv f16,q8_0,q4g] [--batch B] [--plot FILE.svg] [--json]
// Predicts memory per context length and KV type before anything is allocated.
#include <cstdio>
#include <string>
#include <vector>

#include "engine/model/memory_estimate.h"
#include "sdk/cli/commands.h"
#include "sdk/cli/json_out.h"
#include "sdk/cli/offline_model.h"
#include "sdk/cli/svg_chart.h"

namespace strata::cli {
namespace {

struct MemoryOptions {
  std::string model;
  std::vector<int64_t> contexts = {1024, 4096, 16384, 32768};
  std::vector<std::string> kv = {"f16", "q8_0", "q4g"};
  int64_t batch = 512;
  std::string plot;
  bool json = false;
};

void run_memory(const MemoryOptions& o) {
  std::vector<KvType> kv_types;
  for (const auto& name : o.kv) {
    auto t = parse_kv_type(name);
    if (!t) throw Error(ErrorKind::InvalidArgument, "--kv: unknown KV type '" + name + "' (f16, q8_0, q4g)");
    kv_types.push_back(*t);
  }
  for (int64_t c : o.contexts)
    if (c <= 0) throw Error(ErrorKind::InvalidArgument, "--ctx values must be positive");
  auto m = load_offline_model(o.model);
  std::vector<MemoryEstimate> rows;
  for (KvType t : kv_types)
    for (int64_t c : o.contexts) rows.push_back(estimate_memory(*m.model, c, t, o.batch));

  if (!o.plot.empty()) {
    std::vector<ChartSeries> series;
    for (KvType t : kv_types) {
      ChartSeries s{"KV " + std::string(kv_type_name(t)), {}};
      for (const auto& r : rows)
        if (r.kv.type == t) s.points.emplace_back(double(r.context), double(r.total_bytes) / (1 << 30));
      series.push_back(std::move(s));
    }
    write_line_chart_svg(o.plot, "Predicted memory of " + m.model->name(), "context (tokens)", "total memory (GiB)", series);
  }
  if (o.json) {
    boost::json::array a;
    for (const auto& r : rows)
      a.push_back({{"ctx", r.context},
                   {"kv", std::string(kv_type_name(r.kv.type))},
                   {"weights_bytes", r.weights_bytes},
                   {"kv_bytes", r.kv_bytes},
                   {"scratch_bytes", r.scratch_bytes},
                   {"total_bytes", r.total_bytes},
                   {"kv_bytes_per_token", r.kv_bytes_per_token}});
    print_json(boost::json::object{{"model", m.model->name()}, {"rows", std::move(a)}});
    return;
  }
  std::printf("%-8s %-5s %12s %12s %12s %12s %10s\n", "ctx", "kv", "weights MiB", "kv MiB", "scratch MiB", "total MiB",
              "KV B/tok");
  for (const auto& r : rows)
    std::printf("%-8lld %-5s %12.1f %12.1f %12.1f %12.1f %10.0f\n", static_cast<long long>(r.context),
                std::string(kv_type_name(r.kv.type)).c_str(), r.weights_bytes / 1048576.0, r.kv_bytes / 1048576.0,
                r.scratch_bytes / 1048576.0, r.total_bytes / 1048576.0, r.kv_bytes_per_token);
}

}  // namespace

void add_memory(CLI::App& app) {
  auto o = std::make_shared<MemoryOptions>();
  auto* sub = app.add_subcommand("memory", "Predict memory per context length and KV type");
  sub->add_option("-m,--model", o->model, "GGUF model file")->required();
  sub->add_option("--ctx", o->contexts, "Context lengths, comma-separated")->delimiter(',')->capture_default_str();
  sub->add_option("--kv", o->kv, "KV types, comma-separated: f16, q8_0, q4g")->delimiter(',')->capture_default_str();
  sub->add_option("--batch", o->batch, "Tokens per forward pass (prompt batches)")->capture_default_str();
  sub->add_option("--plot", o->plot, "Write an SVG chart of memory against context");
  sub->add_flag("--json", o->json, "Print JSON");
  sub->callback([o] { run_memory(*o); });
}

}  // namespace strata::cli
