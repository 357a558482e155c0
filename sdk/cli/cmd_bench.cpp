// strata bench --model MODEL [-p 512] [-n 128] [--threads N] [--reps R] [--json]
// Prompt processing (pp: one forward pass over p tokens) and generation (tg: n single-token
// passes) in tokens/s, mean and standard deviation over repetitions, as llama-bench reports.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine/decode/decoder.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/sampler/sampler.h"
#include "engine/threads/thread_pool.h"
#include "kernels/cpu/kernels.h"
#include "sdk/cli/commands.h"
#include "sdk/cli/json_out.h"
#include "sdk/cli/offline_model.h"

namespace strata::cli {
namespace {

struct BenchOptions {
  std::string model;
  int64_t prompt = 512;
  int64_t gen = 128;
  int threads = 0;
  int reps = 3;
  std::string kv = "f16";
  bool json = false;
};

struct Stat {
  std::string test;
  double mean = 0, stddev = 0;
};

Stat summarize(std::string test, const std::vector<double>& tps) {
  Stat s{std::move(test)};
  for (double v : tps) s.mean += v;
  s.mean /= tps.size();
  for (double v : tps) s.stddev += (v - s.mean) * (v - s.mean);
  s.stddev = tps.size() > 1 ? std::sqrt(s.stddev / (tps.size() - 1)) : 0;
  return s;
}

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      return p == std::string::npos ? line : line.substr(p + 2);
    }
  return "unknown";
}

void run_bench(const BenchOptions& o) {
  if (o.prompt < 0 || o.gen < 0 || o.reps < 1) throw Error(ErrorKind::InvalidArgument, "-p and -n must be >= 0 and --reps >= 1");
  auto m = load_offline_model(o.model);
  const Model& model = *m.model;
  const auto& d = model.desc();
  const int threads = resolve_threads(o.threads);
  ThreadPool pool(threads);
  Decoder decoder(model, pool);
  const KvGeometry geo{int(d.n_layer), int(d.n_head_kv), int(d.head_dim)};
  const int64_t ctx = std::max<int64_t>(o.prompt, o.gen) + 1;
  const auto kv_type = parse_kv_type(o.kv);
  if (!kv_type) throw Error(ErrorKind::InvalidArgument, "--kv: unknown KV type '" + o.kv + "' (f16, q8_0, q4g)");
  auto new_kv = [&] { return SequenceKvCache(geo, ctx, SequenceKvCache::kDefaultPageTokens, *kv_type); };
  std::vector<float> logits(d.n_vocab);
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> any_token(0, int32_t(d.n_vocab) - 1);
  using Clock = std::chrono::steady_clock;

  std::vector<Stat> stats;
  if (o.prompt > 0) {
    std::vector<double> tps;
    std::vector<int32_t> tokens(o.prompt);
    for (int rep = -1; rep < o.reps; ++rep) {  // rep -1 warms caches and page-ins
      for (auto& t : tokens) t = any_token(rng);
      SequenceKvCache kv = new_kv();
      const auto t0 = Clock::now();
      decoder.forward(tokens, kv, logits);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      if (rep >= 0) tps.push_back(o.prompt / s);
    }
    stats.push_back(summarize("pp" + std::to_string(o.prompt), tps));
  }
  if (o.gen > 0) {
    std::vector<double> tps;
    for (int rep = -1; rep < o.reps; ++rep) {
      SequenceKvCache kv = new_kv();
      int32_t token = any_token(rng);
      const auto t0 = Clock::now();
      for (int64_t i = 0; i < o.gen; ++i) {
        decoder.forward(std::span<const int32_t>(&token, 1), kv, logits);
        token = argmax(logits);
      }
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      if (rep >= 0) tps.push_back(o.gen / s);
    }
    stats.push_back(summarize("tg" + std::to_string(o.gen), tps));
  }

  const std::string cpu = cpu_model_name();
  if (o.json) {
    boost::json::array results;
    for (const auto& s : stats) results.push_back({{"test", s.test}, {"tokens_per_s", s.mean}, {"stddev", s.stddev}});
    print_json(boost::json::object{{"model", model.name()},
                                   {"model_file", model.file().path()},
                                   {"threads", threads},
                                   {"reps", o.reps},
                                   {"cpu", cpu},
                                   {"kernels", std::string(cpu::kernel_level_name())},
                                   {"kv", o.kv},
                                   {"results", std::move(results)}});
    return;
  }
  std::printf("model %s, %d threads, %s, kernels %s\n", model.name().c_str(), threads, cpu.c_str(),
              std::string(cpu::kernel_level_name()).c_str());
  std::printf("| %-8s | %16s |\n", "test", "tokens/s");
  for (const auto& s : stats) std::printf("| %-8s | %8.2f ± %5.2f |\n", s.test.c_str(), s.mean, s.stddev);
}

}  // namespace

void add_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* sub = app.add_subcommand("bench", "Measure prompt-processing and generation speed");
  sub->add_option("-m,--model", o->model, "GGUF model file")->required();
  sub->add_option("-p,--n-prompt", o->prompt, "Prompt tokens (0 skips)")->capture_default_str();
  sub->add_option("-n,--n-gen", o->gen, "Generated tokens (0 skips)")->capture_default_str();
  sub->add_option("-t,--threads", o->threads, "Threads (default: every core)");
  sub->add_option("-r,--reps", o->reps, "Repetitions")->capture_default_str();
  sub->add_option("--kv", o->kv, "KV cache storage: f16, q8_0, q4g")->capture_default_str();
  sub->add_flag("--json", o->json, "Print JSON");
  sub->callback([o] { run_bench(*o); });
}

}  // namespace strata::cli
