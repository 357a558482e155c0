// How a model's weights are to be stored: in which tiers (explicit shares or `auto`), under
// which budgets, and in which format (as in the file, or compressed to q4g at load).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "engine/weights/budget.h"

namespace strata {

enum class WeightFormat { Native, Q4G };

// What a plain load (no tiers, budgets or q4g asked for) does with the file's tensors: map the
// file (On), copy them into huge-page RAM (Off), or choose by the host's memory (Auto;
// engine/weights/weight_residency.h). llama.cpp's --mmap / --no-mmap, Ollama's use_mmap.
enum class MmapMode { Auto, On, Off };

std::string_view mmap_mode_name(MmapMode m);                      // "auto", "on", "off"
std::optional<MmapMode> parse_mmap_mode(std::string_view name);   // those three; nullopt otherwise

std::string_view weight_format_name(WeightFormat f);              // "native", "q4g"
std::optional<WeightFormat> parse_weight_format(std::string_view name);

// FlexGen's wg / wc / wd: percentages of the layer weights per tier, summing to 100.
struct TierShares {
  double gpu = 0, ram = 100, ssd = 0;
  // "auto" gives nullopt; "ram=50,ssd=50" or "0,50,50" (gpu,ram,ssd) give shares. Throws
  // Error(InvalidArgument) naming `what` otherwise.
  static std::optional<TierShares> parse(std::string_view text, std::string_view what);
  std::string to_string() const;
};

struct WeightOptions {
  std::optional<TierShares> shares;  // nullopt: `auto`, the cost model chooses
  Budget ram_budget, gpu_budget;
  WeightFormat format = WeightFormat::Native;
  int staging_slots = 0;  // SSD staging buffers (prefetch depth + 1); 0: the cost model chooses
  std::filesystem::path spill_dir;  // q4g: where compressed SSD-tier layers go; empty: the temp directory
  int probe_threads = 0;  // threads for the compute probe (as the decoder will use); 0: every core
  MmapMode mmap = MmapMode::Auto;  // plain loads only: a tiered store always copies what it keeps

  // Whether anything asks for the tiered store; otherwise a plain load (mapped, or copied whole
  // into RAM as `mmap` says).
  bool tiered() const { return shares || ram_budget.set() || gpu_budget.set() || format != WeightFormat::Native; }
};

}  // namespace strata
