// The tiered weight store on real files: any mix of RAM and SSD tiers generates the same greedy
// tokens as the plain mmapped model; the RAM budget is never exceeded (the store's ledger
// peak); SSD-tier tensors are never paged in through the mapping; a model file truncated while
// its tensors live on the SSD tier gives a ModelFileError naming the file and the cause.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "engine/core/error.h"
#include "engine/decode/decoder.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "engine/model/synth.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/sampler/sampler.h"
#include "engine/threads/thread_pool.h"
#include "engine/weights/tiered_weight_store.h"
#include "engine/weights/weight_plan.h"
#include "engine/weights/weight_residency.h"
#include "tests/support/test_paths.h"
#include "tests/support/synth_shape.h"

namespace strata {
namespace {

const PluginRegistry& plugins() {
  static const PluginRegistry r = PluginRegistry::load_default();
  return r;
}

// 8 small layers (about 0.8 MiB each in q8_0) under a 32000-token vocabulary.
const std::filesystem::path& model_path() {
  static const std::filesystem::path path = [] {
    SynthSpec s = test::synth_shape(256, 8, 4, 2, 768, 256);
    s.type = TensorType::Q8_0;
    s.seed = 11;
    const auto p = test::temp_dir("tiered") / "model.gguf";
    synthesize_model(s, p);
    return p;
  }();
  return path;
}

// Greedy: a 9-token prompt in one pass, then `n` single-token steps.
std::vector<int32_t> greedy(const Model& model, int n) {
  ThreadPool pool(2);
  Decoder decoder(model, pool);
  const auto& d = model.desc();
  SequenceKvCache kv({int(d.n_layer), int(d.n_head_kv), int(d.head_dim)}, 64);
  std::vector<float> logits(d.n_vocab);
  std::vector<int32_t> prompt{1, 450, 4996, 17354, 1701, 432, 17204, 975, 278};
  decoder.forward(prompt, kv, logits);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    const int32_t t = argmax(logits);
    out.push_back(t);
    decoder.forward(std::span<const int32_t>(&t, 1), kv, logits);
  }
  return out;
}

WeightOptions plain(MmapMode mode) {
  WeightOptions o;
  o.mmap = mode;
  return o;
}

const std::vector<int32_t>& reference_tokens() {
  static const std::vector<int32_t> ref = greedy(*Model::load(model_path(), plugins(), plain(MmapMode::On)), 12);
  return ref;
}

WeightSizes sizes() {
  auto m = Model::load(model_path(), plugins());
  return weight_sizes(m->file(), m->weights());
}

uint64_t layer_total(const WeightSizes& s) {
  uint64_t n = 0;
  for (uint64_t b : s.resident_bytes) n += b;
  return n;
}

void expect_identical(const WeightOptions& o, bool expect_ssd) {
  auto m = Model::load(model_path(), plugins(), o);
  EXPECT_EQ(greedy(*m, 12), reference_tokens());
  const WeightStoreStats s = m->weight_store().stats();
  if (expect_ssd) {
    EXPECT_GT(s.ssd_bytes, 0u);
    // Every step reads every SSD layer once (the prefetch may have run ahead by a few).
    EXPECT_GE(s.ssd_bytes_read, s.ssd_bytes * s.steps);
  } else {
    EXPECT_EQ(s.ssd_bytes_read, 0u);
  }
  if (s.ram_budget) {
    EXPECT_LE(s.ram_peak_bytes, s.ram_budget);
  }
  EXPECT_EQ(s.steps, 13u);
}

TEST(TieredWeights, ExplicitTierMixesMatchTheMappedModel) {
  struct Case {
    const char* shares;
    int staging;
    bool ssd;
  };
  for (const Case& c : {Case{"ram=100", 0, false}, Case{"ssd=100", 1, true}, Case{"ssd=100", 2, true},
                        Case{"ssd=100", 3, true}, Case{"ram=50,ssd=50", 2, true}, Case{"0,25,75", 2, true}}) {
    SCOPED_TRACE(std::string(c.shares) + " staging " + std::to_string(c.staging));
    WeightOptions o;
    o.shares = TierShares::parse(c.shares, "test");
    o.staging_slots = c.staging;
    expect_identical(o, c.ssd);
  }
}

// A plain load (no tiers, budgets or q4g) maps the file or copies the tensors into our own
// buffers, as asked; both generate the mapped model's tokens.
TEST(TieredWeights, PlainLoadsMapOrCopyAsAskedAndGenerateTheSameTokens) {
  auto in_mapping = [](const Model& m, const TensorRef& t) { return t.data == m.file().require_tensor(t.name).data; };
  auto mapped = Model::load(model_path(), plugins(), plain(MmapMode::On));
  EXPECT_TRUE(mapped->weight_store().stats().mapped);
  EXPECT_TRUE(in_mapping(*mapped, mapped->weights().layers[3].ffn_down));
  EXPECT_TRUE(in_mapping(*mapped, mapped->weights().output));
  EXPECT_EQ(mapped->weight_store().resident_bytes(), std::filesystem::file_size(model_path()));
  EXPECT_EQ(mapped->weight_residency().rfind("mapped", 0), 0u) << mapped->weight_residency();

  auto copied = Model::load(model_path(), plugins(), plain(MmapMode::Off));
  const WeightStoreStats s = copied->weight_store().stats();
  EXPECT_FALSE(s.mapped);
  EXPECT_EQ(s.ssd_bytes, 0u);
  EXPECT_GE(s.ram_bytes, layer_total(sizes()));
  for (const auto& L : copied->weights().layers) EXPECT_FALSE(in_mapping(*copied, L.wq));
  EXPECT_FALSE(in_mapping(*copied, copied->weights().output));
  EXPECT_FALSE(in_mapping(*copied, copied->weights().token_embd));
  EXPECT_EQ(copied->weight_residency().rfind("copied into RAM (mmap = off)", 0), 0u) << copied->weight_residency();
  EXPECT_EQ(greedy(*copied, 12), reference_tokens());

  // What auto chose on this host is one of the two, and said so.
  auto chosen = Model::load(model_path(), plugins());
  const bool copy = copy_weights_at_load(MmapMode::Auto, std::filesystem::file_size(model_path()), read_host_memory());
  EXPECT_EQ(chosen->weight_store().stats().mapped, !copy);
  EXPECT_EQ(greedy(*chosen, 12), reference_tokens());
}

TEST(TieredWeights, BudgetsAtHalfAndQuarterOfTheLayersMatchAndHold) {
  const WeightSizes s = sizes();
  for (double share : {1.0, 0.5, 0.25, 0.0}) {
    SCOPED_TRACE("layers share " + std::to_string(share));
    WeightOptions o;  // auto: the cost model places under the budget
    // Globals, the share of the layers, and room for two staging buffers.
    o.ram_budget.bytes = s.globals_bytes + uint64_t(share * layer_total(s)) + 2 * s.read_bytes[0];
    expect_identical(o, share < 1.0);
    auto m = Model::load(model_path(), plugins(), o);
    const auto& store = dynamic_cast<const TieredWeightStore&>(m->weight_store());
    EXPECT_LE(store.ledger().peak(), *o.ram_budget.bytes);
    EXPECT_LE(store.placement().ram_bytes(s), *o.ram_budget.bytes);
  }
}

TEST(TieredWeights, BudgetBelowTheMinimumIsRefusedBeforeAllocating) {
  const WeightSizes s = sizes();
  WeightOptions o;
  o.ram_budget.bytes = s.globals_bytes + s.read_bytes[0] - 1;  // not even globals + one staging buffer
  try {
    Model::load(model_path(), plugins(), o);
    FAIL() << "a budget below globals + one staging buffer was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::OutOfMemory);
    EXPECT_NE(std::string(e.what()).find("ram_budget"), std::string::npos) << e.what();
  }
  // Exactly the minimum works, and its peak is within it.
  o.ram_budget.bytes = s.globals_bytes + s.read_bytes[0];
  o.staging_slots = 1;
  auto m = Model::load(model_path(), plugins(), o);
  EXPECT_EQ(greedy(*m, 12), reference_tokens());
  EXPECT_LE(m->weight_store().stats().ram_peak_bytes, *o.ram_budget.bytes);
}

TEST(TieredWeights, SsdTierPagesNeverEnterThePageCache) {
  WeightOptions o;
  o.shares = TierShares{0, 0, 100};
  auto m = Model::load(model_path(), plugins(), o);
  if (!m->weight_store().stats().direct_io) GTEST_SKIP() << "this filesystem has no O_DIRECT (e.g. tmpfs)";
  greedy(*m, 4);
  // mincore on the mapping reports which of the file's pages are in the page cache.
  const long page = ::sysconf(_SC_PAGESIZE);
  size_t resident = 0, pages = 0;
  for (const auto& L : m->weights().layers) {
    const gguf::TensorInfo& t = m->file().require_tensor(L.ffn_up.name);
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(t.data) + page - 1) / page * page;
    const uintptr_t end = (reinterpret_cast<uintptr_t>(t.data) + t.bytes) / page * page;
    if (end <= begin) continue;
    std::vector<unsigned char> vec((end - begin) / page);
    ASSERT_EQ(::mincore(reinterpret_cast<void*>(begin), end - begin, vec.data()), 0);
    for (unsigned char v : vec) resident += v & 1;
    pages += vec.size();
  }
  EXPECT_GT(pages, 0u);
  EXPECT_EQ(resident, 0u) << "of " << pages << " pages of SSD-tier tensors, " << resident << " are in the page cache";
}

TEST(TieredWeights, TruncatedFileGivesAModelFileErrorNamingIt) {
  const auto path = test::temp_dir("tiered-trunc") / "model.gguf";
  std::filesystem::copy_file(model_path(), path);
  WeightOptions o;
  o.shares = TierShares{0, 50, 50};
  auto m = Model::load(path, plugins(), o);
  ASSERT_FALSE(greedy(*m, 2).empty());
  // Cut the file in the middle of the layers while the model is loaded.
  const auto& last = m->file().require_tensor(m->weights().layers.back().ffn_down.name);
  std::filesystem::resize_file(path, last.offset);
  for (int attempt = 0; attempt < 2; ++attempt) {  // the store recovers: a second step fails the same way
    try {
      greedy(*m, 2);
      FAIL() << "reading weights past the end of a truncated file succeeded";
    } catch (const ModelFileError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path.string()), std::string::npos) << what;
      EXPECT_NE(what.find("truncated"), std::string::npos) << what;
    }
  }
}

TEST(TieredWeights, MissingFileIsAClearError) {
  const auto path = test::temp_dir("tiered-missing") / "absent.gguf";
  WeightOptions o;
  o.shares = TierShares{0, 0, 100};
  try {
    Model::load(path, plugins(), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

TEST(TieredWeights, GpuShareWithoutAGpuIsUnsupported) {
  WeightOptions o;
  o.shares = TierShares{50, 50, 0};
  try {
    Model::load(model_path(), plugins(), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported) << e.what();
  }
}

}  // namespace
}  // namespace strata
