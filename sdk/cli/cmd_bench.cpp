// strata bench --model MODEL [-p 512] [-n 128] [--threads N] [--reps R] [--json] [--bandwidth]
//              [--probe-window 1]
// Prompt processing (pp: one forward pass over p tokens) and generation (tg: n single-token
// passes) in tokens/s, mean and standard deviation over repetitions, as llama-bench reports.
// --bandwidth first measures the memory read bandwidth and prints the decode roofline (bandwidth
// / bytes of weights read per generated token) beside the tg figures. It also probes again right
// before and after each tg repetition and gives that repetition's share of the roofline of the
// two probes' mean: on a shared host the bandwidth moves from minute to minute (20-84 GB/s on the
// Zen 5 VM), and a share of a probe taken at another moment says more about the host than about
// decode. The
// bandwidth is what the host sustains over windows of --probe-window seconds (about as long as a
// tg128 repetition of a 1B model), not the fastest single pass: bandwidth_probe.cpp.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/decode/decoder.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/sampler/sampler.h"
#include "engine/threads/thread_pool.h"
#include "kernels/cpu/kernels.h"
#include "sdk/cli/bandwidth_probe.h"
#include "sdk/cli/commands.h"
#include "sdk/cli/json_out.h"
#include "sdk/cli/offline_model.h"
#include "sdk/cli/weight_flags.h"
#include "engine/weights/weight_stats_json.h"

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
  bool bandwidth = false;
  double probe_window_s = 1.0;
  WeightFlags weights;
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

// Bytes of weights one generated token reads: every layer matrix and vector, the output norm and
// the output matrix; of the token embedding only one row.
double weight_bytes_per_token(const Model& model) {
  const ModelWeights& w = model.weights();
  auto bytes = [](const TensorRef& t) { return t.data ? double(t.row_bytes()) * double(t.rows()) : 0.0; };
  double total = bytes(w.output_norm) + bytes(w.output_norm_b) + bytes(w.output);
  if (w.token_embd.data) total += double(w.token_embd.row_bytes());
  for (const auto& L : w.layers)
    for (const TensorRef* t : {&L.attn_norm, &L.attn_norm_b, &L.wq, &L.wk, &L.wv, &L.wo, &L.bq, &L.bk, &L.bv, &L.bo,
                               &L.ffn_norm, &L.ffn_norm_b, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
      total += bytes(*t);
  return total;
}

boost::json::object cpu_features_json() {
  const cpu::CpuFeatures& f = cpu::cpu_features();
  return {{"avx2", f.avx2},         {"fma", f.fma},           {"f16c", f.f16c},
          {"avx512f", f.avx512f},   {"avx512bw", f.avx512bw}, {"avx512vl", f.avx512vl},
          {"avx512vnni", f.avx512vnni}, {"avx512bf16", f.avx512bf16}, {"avxvnni", f.avxvnni}};
}

std::string cpu_features_text() {
  std::string out;
  for (const auto& [name, v] : cpu_features_json())
    if (v.as_bool()) out += (out.empty() ? "" : " ") + std::string(name);
  return out.empty() ? "none" : out;
}

void run_bench(const BenchOptions& o) {
  if (o.prompt < 0 || o.gen < 0 || o.reps < 1) throw Error(ErrorKind::InvalidArgument, "-p and -n must be >= 0 and --reps >= 1");
  const int threads = resolve_threads(o.threads);
  auto m = load_offline_model(o.model, to_weight_options(o.weights, threads));
  const Model& model = *m.model;
  const auto& d = model.desc();
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

  BandwidthResult bw;
  constexpr uint64_t kProbeBytes = uint64_t{1} << 30;  // 1 GiB: far past any LLC
  if (o.bandwidth) bw = measure_read_bandwidth(pool, kProbeBytes, {3, 3, o.probe_window_s});
  const double per_token = weight_bytes_per_token(model);
  const double roofline = bw.bytes_per_s > 0 ? bw.bytes_per_s / per_token : 0;

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
  WeightStoreStats tg_before{}, tg_after{};
  // Per tg repetition: tokens/s; with --bandwidth the probes are windows between the repetitions,
  // probes[i] just before repetition i and probes[i + 1] just after it.
  std::vector<double> tps_per_rep, probes;
  auto probe = [&] {
    // A buffer of its own each time (outside the timed loop), so that no 1 GiB is held while a
    // tiered model decodes under its RAM budget.
    probes.push_back(measure_read_bandwidth(pool, kProbeBytes, {1, 1, o.probe_window_s}).bytes_per_s);
  };
  if (o.gen > 0) {
    for (int rep = -1; rep < o.reps; ++rep) {
      if (rep == 0) tg_before = model.weight_store().stats();  // the SSD tier's share, warm-up excluded
      if (o.bandwidth && rep == 0) probe();
      SequenceKvCache kv = new_kv();
      int32_t token = any_token(rng);
      const auto t0 = Clock::now();
      for (int64_t i = 0; i < o.gen; ++i) {
        decoder.forward(std::span<const int32_t>(&token, 1), kv, logits);
        token = argmax(logits);
      }
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      if (rep >= 0) tps_per_rep.push_back(o.gen / s);
      if (o.bandwidth && rep >= 0) probe();
    }
    stats.push_back(summarize("tg" + std::to_string(o.gen), tps_per_rep));
    tg_after = model.weight_store().stats();
  }
  // Each tg repetition's share of the roofline of the probes around it: the mean of the window
  // just before and the one just after, so that a host whose bandwidth drifts during the
  // repetition is met halfway rather than at one end.
  std::vector<double> probe_per_rep, paired_fraction;
  for (size_t i = 0; i + 1 < probes.size(); ++i) {
    probe_per_rep.push_back((probes[i] + probes[i + 1]) / 2);
    paired_fraction.push_back(tps_per_rep[i] * per_token / probe_per_rep[i]);
  }
  // The SSD tier's share of generation: bytes read and stalls per generated token.
  const double tg_steps = double(tg_after.steps - tg_before.steps);
  const double tg_io = tg_after.io_seconds - tg_before.io_seconds, tg_stall = tg_after.stall_seconds - tg_before.stall_seconds;
  boost::json::object tier_json = weight_stats_json(model.weight_store().stats());
  tier_json["residency"] = model.weight_residency();
  if (tg_steps > 0) {
    tier_json["tg_ssd_bytes_per_token"] = double(tg_after.ssd_bytes_read - tg_before.ssd_bytes_read) / tg_steps;
    tier_json["tg_stall_s_per_token"] = tg_stall / tg_steps;
    tier_json["tg_hidden_io_share"] = tg_io > 0 ? std::max(0.0, 1.0 - tg_stall / tg_io) : 1.0;
  }

  const std::string cpu = cpu_model_name();
  if (o.json) {
    boost::json::array results;
    for (const auto& s : stats) {
      boost::json::object r{{"test", s.test}, {"tokens_per_s", s.mean}, {"stddev", s.stddev}};
      if (roofline > 0 && s.test.rfind("tg", 0) == 0) {
        r["roofline_fraction"] = s.mean / roofline;
        boost::json::array paired;
        for (size_t i = 0; i < paired_fraction.size(); ++i)
          paired.push_back({{"tokens_per_s", tps_per_rep[i]},
                            {"read_bytes_per_s", probe_per_rep[i]},
                            {"read_bytes_per_s_before", probes[i]},
                            {"read_bytes_per_s_after", probes[i + 1]},
                            {"roofline_fraction", paired_fraction[i]}});
        r["paired"] = std::move(paired);
      }
      results.push_back(std::move(r));
    }
    boost::json::object out{{"model", model.name()},
                            {"model_file", model.file().path()},
                            {"threads", threads},
                            {"reps", o.reps},
                            {"cpu", cpu},
                            {"cpu_features", cpu_features_json()},
                            {"logical_cpus", std::thread::hardware_concurrency()},
                            {"kernels", std::string(cpu::kernel_level_name())},
                            {"prefetch", std::string(cpu::prefetch_profile_name())},
                            {"kv", o.kv},
                            {"weight_bytes_per_token", per_token},
                            {"weights", std::move(tier_json)},
                            {"results", std::move(results)}};
    if (o.bandwidth)
      out["bandwidth"] = boost::json::object{{"read_bytes_per_s", bw.bytes_per_s},
                                             {"burst_read_bytes_per_s", bw.burst_bytes_per_s},
                                             {"window_s", bw.window_s},
                                             {"buffer_bytes", bw.buffer_bytes},
                                             {"decode_roofline_tokens_per_s", roofline}};
    print_json(std::move(out));
    return;
  }
  std::printf("model %s, %d threads, %s, kernels %s, prefetch %s\n", model.name().c_str(), threads, cpu.c_str(),
              std::string(cpu::kernel_level_name()).c_str(), std::string(cpu::prefetch_profile_name()).c_str());
  std::printf("cpu features: %s (%u logical cpus)\n", cpu_features_text().c_str(), std::thread::hardware_concurrency());
  std::printf("weights %s\n", model.weight_residency().c_str());
  if (o.bandwidth)
    std::printf("memory read bandwidth %.2f GB/s sustained over %.1f s (fastest single pass %.2f GB/s; %d threads, "
                "%.0f MiB buffer); weights read per token %.1f MiB; decode roofline %.2f tokens/s\n",
                bw.bytes_per_s / 1e9, bw.window_s, bw.burst_bytes_per_s / 1e9, threads, bw.buffer_bytes / 1048576.0,
                per_token / 1048576.0, roofline);
  if (roofline > 0) {
    std::printf("| %-8s | %16s | %9s |\n", "test", "tokens/s", "roofline");
    for (const auto& s : stats) {
      if (s.test.rfind("tg", 0) == 0)
        std::printf("| %-8s | %8.2f ± %5.2f | %8.1f%% |\n", s.test.c_str(), s.mean, s.stddev, 100.0 * s.mean / roofline);
      else
        std::printf("| %-8s | %8.2f ± %5.2f | %9s |\n", s.test.c_str(), s.mean, s.stddev, "");
    }
    if (!paired_fraction.empty()) {
      std::printf("tg against the probes just before and after each repetition:");
      for (size_t i = 0; i < paired_fraction.size(); ++i)
        std::printf(" %.1f%% (%.2f GB/s)", 100.0 * paired_fraction[i], probe_per_rep[i] / 1e9);
      std::printf("\n");
    }
  } else {
    std::printf("| %-8s | %16s |\n", "test", "tokens/s");
    for (const auto& s : stats) std::printf("| %-8s | %8.2f ± %5.2f |\n", s.test.c_str(), s.mean, s.stddev);
  }
  const WeightStoreStats ws = model.weight_store().stats();
  if (ws.ssd_bytes > 0 && tg_steps > 0)
    std::printf("tg ssd tier: %.1f MiB read per token, %.3f s stalled per token, %.0f%% of io hidden behind compute\n",
                tier_json["tg_ssd_bytes_per_token"].as_double() / (1024.0 * 1024.0), tg_stall / tg_steps,
                100.0 * tier_json["tg_hidden_io_share"].as_double());
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
  sub->add_flag("--bandwidth", o->bandwidth, "Measure memory bandwidth and print the decode roofline beside tg");
  sub->add_option("--probe-window", o->probe_window_s, "Seconds each bandwidth window reads (the sustained rate)")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  add_weight_flags(sub, o->weights);
  sub->callback([o] { run_bench(*o); });
}

}  // namespace strata::cli
