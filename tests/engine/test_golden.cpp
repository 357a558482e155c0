// The engine against llama.cpp's reference outputs (../shared/golden). The comparisons follow the
// golden files' own notes: prompt ids exactly; first-step top-10 logits within logit_abs;
// free-running greedy ids up to the first near-tie step; and, the strong check, teacher-forced
// argmax at every step whose recorded margin is at least teacher_forced_margin.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <map>

#include "engine/decode/decoder.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/sampler/sampler.h"
#include "engine/threads/thread_pool.h"
#include "tests/engine/golden_reference.h"
#include "tests/support/test_paths.h"

namespace strata {
namespace {

using test::GoldenModel;

const std::vector<GoldenModel>& all_golden() {
  static const std::vector<GoldenModel> g = test::load_all_golden();
  return g;
}

const PluginRegistry& plugins() {
  static const PluginRegistry r = PluginRegistry::load_default();
  return r;
}

void check_model(const std::string& file_name) {
  const GoldenModel* g = nullptr;
  for (const auto& m : all_golden())
    if (m.model_path.filename() == file_name) g = &m;
  ASSERT_NE(g, nullptr) << "no golden entry for " << file_name;
  auto model = Model::load(g->model_path, plugins());
  const auto& d = model->desc();
  ThreadPool pool(2);
  Decoder decoder(*model, pool);
  const KvGeometry geo{int(d.n_layer), int(d.n_head_kv), int(d.head_dim)};
  std::vector<float> logits(d.n_vocab);
  const auto& tol = g->tolerances;

  double max_top10_dev = 0;
  int teacher_checked = 0, free_checked = 0;
  for (const auto& c : g->cases) {
    SCOPED_TRACE("prompt: " + c.prompt.substr(0, 60));
    // 1. Tokenization, BOS as the metadata says, special tokens not parsed.
    const auto tokens = model->tokenizer().encode(c.prompt, /*add_special=*/true, /*parse_special=*/false);
    ASSERT_EQ(tokens, c.prompt_tokens);

    // 2. First-step logits.
    SequenceKvCache kv(geo, 4096);
    decoder.forward(tokens, kv, logits);
    for (const auto& [id, ref] : c.top10_first) {
      const double dev = std::fabs(logits[id] - ref);
      max_top10_dev = std::max(max_top10_dev, dev);
      EXPECT_LE(dev, tol.logit_abs) << "token " << id << ": ours " << logits[id] << ", llama.cpp " << ref;
    }

    // 3. Free-running greedy generation up to the first near-tie.
    {
      SequenceKvCache kv2(geo, 4096);
      decoder.forward(tokens, kv2, logits);
      for (size_t i = 0; i < c.generated_tokens.size() && c.margins[i] >= tol.free_run_margin; ++i) {
        const int32_t next = argmax(logits);
        ASSERT_EQ(next, c.generated_tokens[i]) << "free run, step " << i << " (margin " << c.margins[i] << ")";
        ++free_checked;
        decoder.forward(std::span<const int32_t>(&next, 1), kv2, logits);
      }
    }

    // 4. Teacher forcing: feed the golden ids, compare argmax where the margin is decisive.
    {
      SequenceKvCache kv3(geo, 4096);
      decoder.forward(tokens, kv3, logits);
      for (size_t i = 0; i < c.generated_tokens.size(); ++i) {
        const int32_t golden = c.generated_tokens[i];
        if (c.margins[i] >= tol.teacher_forced_margin) {
          EXPECT_EQ(argmax(logits), golden) << "teacher-forced step " << i << " (margin " << c.margins[i] << ")";
          ++teacher_checked;
        }
        decoder.forward(std::span<const int32_t>(&golden, 1), kv3, logits);
      }
    }
  }
  std::cout << "[golden] " << file_name << ": max |top-10 logit deviation| = " << max_top10_dev << " (tolerance "
            << tol.logit_abs << "), free-run steps checked " << free_checked << ", teacher-forced steps checked "
            << teacher_checked << "\n";
  ::testing::Test::RecordProperty("max_top10_logit_deviation", std::to_string(max_top10_dev));
  EXPECT_GT(teacher_checked, 0);
}

TEST(Golden, EveryGoldenModelHasATest) {
  const std::vector<std::string> covered = {"llama-2-tiny-random.gguf", "mini-llama2-Q8_0.gguf", "mini-llama2-Q4_0.gguf",
                                            "mini-llama2-Q4_K_M.gguf", "mini-llama3-Q8_0.gguf"};
  ASSERT_FALSE(all_golden().empty());
  for (const auto& g : all_golden())
    EXPECT_NE(std::find(covered.begin(), covered.end(), g.model_path.filename().string()), covered.end())
        << g.model_path << " from " << g.golden_file << " has no test";
}

TEST(Golden, TinyRandomF16) { check_model("llama-2-tiny-random.gguf"); }
TEST(Golden, MiniLlama2Q8_0) { check_model("mini-llama2-Q8_0.gguf"); }
TEST(Golden, MiniLlama2Q4_0) { check_model("mini-llama2-Q4_0.gguf"); }
TEST(Golden, MiniLlama2Q4_K_M) { check_model("mini-llama2-Q4_K_M.gguf"); }
TEST(Golden, MiniLlama3Q8_0) { check_model("mini-llama3-Q8_0.gguf"); }

}  // namespace
}  // namespace strata
