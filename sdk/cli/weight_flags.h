// The weight-placement options the offline commands share (generate, bench, plan, eval-weights):
// --ram-budget, --gpu-budget, --weights, --weight-tiers, --staging, --mmap; and how a store's tier
// statistics are printed.
#pragma once

#include <boost/json.hpp>
#include <CLI/CLI.hpp>
#include <string>

#include "engine/model/weight_store.h"
#include "engine/weights/weight_options.h"

namespace strata::cli {

struct WeightFlags {
  std::string ram_budget, gpu_budget;
  std::string weights = "native";
  std::string tiers = "auto";
  int staging = 0;
  std::string mmap = "auto";
};

void add_weight_flags(CLI::App* sub, WeightFlags& f);
// Throws Error(InvalidArgument) naming the flag for a bad value.
WeightOptions to_weight_options(const WeightFlags& f, int threads);

// One or two lines for --verbose output (stderr).
void print_weight_stats(const WeightStoreStats& s);

}  // namespace strata::cli
