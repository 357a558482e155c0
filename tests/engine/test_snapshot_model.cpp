// Snapshots of a real model's KV: a session prefilled, saved, restored into a fresh pool (as
// after a restart) and continued gives the same greedy tokens as the uninterrupted session; the
// model fingerprint tells models apart and is cached.
#include <gtest/gtest.h>

#include <chrono>

#include "engine/decode/decoder.h"
#include "engine/decode/generation.h"
#include "engine/model/model.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/sampler/sampler.h"
#include "engine/snapshot/snapshot_store.h"
#include "engine/threads/thread_pool.h"
#include "tests/engine/snapshot_test_util.h"
#include "tests/support/test_paths.h"

namespace strata::snapshot {
namespace {

class SnapshotModelTest : public ::testing::TestWithParam<std::pair<const char*, KvType>> {
 protected:
  static void SetUpTestSuite() { registry_ = new PluginRegistry(PluginRegistry::load_default()); }
  static void TearDownTestSuite() { delete registry_; }
  static PluginRegistry* registry_;
};
PluginRegistry* SnapshotModelTest::registry_ = nullptr;

std::vector<int32_t> greedy_continue(const Model& m, KvCache& kv, const std::vector<int32_t>& prompt, int64_t n) {
  ThreadPool pool(2);
  Decoder decoder(m, pool);
  SamplerParams greedy;
  greedy.temperature = 0;
  Sampler sampler(greedy);
  GenerationOptions o;
  o.max_tokens = n;
  o.stop_at_end_of_generation = false;
  return generate(decoder, kv, sampler, m.tokenizer(), prompt, o).tokens;
}

TEST_P(SnapshotModelTest, ARestoredSessionContinuesTokenIdentically) {
  const auto [file, type] = GetParam();
  const auto path = test::shared_path(std::string("models/") + file);
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared model missing: " << path;
  auto model = Model::load(path, *registry_);
  const auto& d = model->desc();
  const KvGeometry g{int(d.n_layer), int(d.n_head_kv), int(d.head_dim)};
  const auto dir = test::temp_dir("snapshot-model");

  // A 600-token history: two full pages and a partial one.
  std::vector<int32_t> history = {1};
  for (int i = 1; i < 600; ++i) history.push_back(static_cast<int32_t>(100 + (i * 37) % 20000));
  auto pool = KvPagePool::create(g, type, 256);
  SequenceKvCache kv(pool, 2048);
  // Prefill all but the last token, as a session whose next turn feeds it.
  greedy_continue(*model, kv, std::vector<int32_t>(history.begin(), history.end() - 1), 0);
  ASSERT_EQ(kv.size(), 599);

  SnapshotStore store({dir, 0, true});
  KvLayout layout{store.fingerprint(path), pool->format(), g, 256};
  SessionRow row;
  row.id = "s";
  row.owner = 1000;
  row.model = "m";
  row.tokens = history;
  EXPECT_EQ(store.save(row, layout, &kv).chunks_written, 2);

  // The uninterrupted session.
  const auto want = greedy_continue(*model, kv, {history.back()}, 24);

  // A restart: new pool, new store, restore, re-prefill the partial page from the stored ids.
  SnapshotStore store2({dir, 0, true});
  auto pool2 = KvPagePool::create(g, type, 256);
  auto r = store2.restore("s", layout, pool2, 2048);
  ASSERT_EQ(r.restored_tokens, 512);
  const auto stored = store2.session("s")->tokens;
  const std::vector<int32_t> tail(stored.begin() + r.restored_tokens, stored.end());
  // The restored pages hold exactly the bytes a 512-token prefill gives.
  SequenceKvCache ref(pool, 2048);
  greedy_continue(*model, ref, std::vector<int32_t>(history.begin(), history.begin() + 512), 0);
  EXPECT_TRUE(test::same_pages(ref, *r.kv, 2)) << "restored pages equal the original bytes";
  const auto got = greedy_continue(*model, *r.kv, tail, 24);
  EXPECT_EQ(got, want);
}

INSTANTIATE_TEST_SUITE_P(Models, SnapshotModelTest,
                         ::testing::Values(std::make_pair("llama-2-tiny-random.gguf", KvType::F16),
                                           std::make_pair("mini-llama2-Q8_0.gguf", KvType::Q4G)),
                         [](const auto& info) { return info.param.second == KvType::F16 ? "tiny_f16" : "mini_q4g"; });

TEST(SnapshotFingerprint, DiffersBetweenModelsAndIsCachedByFileIdentity) {
  const auto a = test::shared_path("models/mini-llama2-Q8_0.gguf");
  const auto b = test::shared_path("models/mini-llama2-Q4_0.gguf");
  if (!std::filesystem::exists(a) || !std::filesystem::exists(b)) GTEST_SKIP() << "shared models missing";
  EXPECT_EQ(fingerprint_model_file(a), fingerprint_model_file(a));
  EXPECT_NE(fingerprint_model_file(a), fingerprint_model_file(b));

  // A copy whose metadata differs in one byte: another fingerprint.
  const auto dir = test::temp_dir("snapshot-fp");
  const auto copy = dir / "m.gguf";
  std::filesystem::copy_file(a, copy);
  SnapshotStore store({dir / "store", 0, true});
  const auto f1 = store.fingerprint(copy);
  EXPECT_EQ(f1, fingerprint_model_file(a));
  test::flip_byte(copy, 100);
  // Same size and maybe the same mtime second: the cache keys on nanoseconds and the inode, and
  // a rewrite changes the mtime.
  std::filesystem::last_write_time(copy, std::filesystem::last_write_time(copy) + std::chrono::seconds(1));
  EXPECT_NE(store.fingerprint(copy), f1);
}

}  // namespace
}  // namespace strata::snapshot
