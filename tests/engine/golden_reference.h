// Reads llama.cpp's reference outputs in ../shared/golden/*.json (see their "fields" and
// "notes"): per model file, cases with prompt ids, greedy continuations, per-step top1-top2
// margins and first-step top-10 logits, and the tolerances to compare with.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace strata::test {

struct GoldenCase {
  std::string prompt;
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> generated_tokens;
  std::vector<double> margins;                          // top1 - top2 at each generated step
  std::vector<std::pair<int32_t, double>> top10_first;  // (id, logit) after the prompt
};

struct GoldenTolerances {
  double free_run_margin = 0;
  double teacher_forced_margin = 0;
  double logit_abs = 0;
};

struct GoldenModel {
  std::filesystem::path golden_file;
  std::filesystem::path model_path;  // resolved against the folder that holds shared/
  GoldenTolerances tolerances;
  std::vector<GoldenCase> cases;
};

// Every model entry of every golden file in shared_dir()/golden.
std::vector<GoldenModel> load_all_golden();

}  // namespace strata::test
