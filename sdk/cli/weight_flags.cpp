#include "sdk/cli/weight_flags.h"

#include <cstdio>

#include "engine/core/error.h"

namespace strata::cli {

void add_weight_flags(CLI::App* sub, WeightFlags& f) {
  sub->add_option("--ram-budget", f.ram_budget,
                  "RAM for weights, BYTES (8G, 512M) or PCT% of the model; layers that do not fit are read from SSD");
  sub->add_option("--gpu-budget", f.gpu_budget, "GPU memory for weights (no GPU tier in this build yet)");
  sub->add_option("--weights", f.weights, "Weight format: native, or q4g (4-bit group-wise, for f16/bf16/f32 matrices)")
      ->capture_default_str();
  sub->add_option("--weight-tiers", f.tiers, "auto (cost model) or shares like ram=50,ssd=50 (gpu,ram,ssd %)")
      ->capture_default_str();
  sub->add_option("--staging", f.staging, "SSD staging buffers (prefetch depth + 1); 0: the cost model chooses");
  sub->add_option("--mmap", f.mmap,
                  "Plain loads: on maps the file, off copies the weights into huge-page RAM, auto copies when "
                  "huge pages are on and the file is at most half of the available memory")
      ->capture_default_str();
}

WeightOptions to_weight_options(const WeightFlags& f, int threads) {
  WeightOptions o;
  o.ram_budget = Budget::parse(f.ram_budget, "--ram-budget");
  o.gpu_budget = Budget::parse(f.gpu_budget, "--gpu-budget");
  const auto format = parse_weight_format(f.weights);
  if (!format) throw Error(ErrorKind::InvalidArgument, "--weights: unknown format '" + f.weights + "' (native, q4g)");
  o.format = *format;
  o.shares = TierShares::parse(f.tiers, "--weight-tiers");
  if (f.staging < 0) throw Error(ErrorKind::InvalidArgument, "--staging must be >= 0");
  o.staging_slots = f.staging;
  o.probe_threads = threads;
  const auto mmap = parse_mmap_mode(f.mmap);
  if (!mmap) throw Error(ErrorKind::InvalidArgument, "--mmap: '" + f.mmap + "' is not auto, on or off");
  o.mmap = *mmap;
  return o;
}

void print_weight_stats(const WeightStoreStats& s) {
  const double mib = 1024.0 * 1024.0;
  if (s.mapped) {
    std::fprintf(stderr, "weights: %.1f MiB mapped from the file\n", s.ram_bytes / mib);
    return;
  }
  std::fprintf(stderr, "weights: ram %.1f MiB, ssd %.1f MiB, staging %.1f MiB (peak %.1f MiB of budget %s)\n",
               s.ram_bytes / mib, s.ssd_bytes / mib, s.staging_bytes / mib, s.ram_peak_bytes / mib,
               s.ram_budget ? (std::to_string(s.ram_budget / (1024 * 1024)) + " MiB").c_str() : "none");
  if (s.ssd_bytes > 0)
    std::fprintf(stderr, "ssd tier: %.1f MiB read per step over %llu steps, io %.2f s, stalled %.2f s, %.0f%% of io hidden, %s\n",
                 s.ssd_bytes_per_step() / mib, static_cast<unsigned long long>(s.steps), s.io_seconds, s.stall_seconds,
                 100.0 * s.hidden_io_share(), s.direct_io ? "O_DIRECT" : "buffered + fadvise (no O_DIRECT here)");
}

}  // namespace strata::cli
