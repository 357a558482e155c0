// Decoder invariants that hold for any model: a batched prefill equals token-by-token decoding,
// all-logits mode agrees with last-logits mode, the KV cache grows page by page, and bad input
// is refused with a clear error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/decode/decoder.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/threads/thread_pool.h"
#include "tests/support/test_paths.h"

namespace strata {
namespace {

class DecoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new PluginRegistry(PluginRegistry::load_default());
    model_ = Model::load(test::shared_path("models/mini-llama2-Q8_0.gguf"), *registry_).release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete registry_;
  }
  KvGeometry geo() const {
    const auto& d = model_->desc();
    return {int(d.n_layer), int(d.n_head_kv), int(d.head_dim)};
  }
  static PluginRegistry* registry_;
  static Model* model_;
};
PluginRegistry* DecoderTest::registry_ = nullptr;
Model* DecoderTest::model_ = nullptr;

TEST_F(DecoderTest, BatchedPrefillEqualsTokenByToken) {
  ThreadPool pool(2);
  Decoder decoder(*model_, pool);
  const int64_t V = model_->desc().n_vocab;
  std::vector<int32_t> tokens = {1, 450, 7483, 310, 3444, 338, 263, 4799, 29889};
  std::vector<float> all(tokens.size() * V), one(V);
  SequenceKvCache kv_batch(geo(), 64, 4);  // small pages: the batch spans several
  decoder.forward(tokens, kv_batch, all, /*all_logits=*/true);
  SequenceKvCache kv_step(geo(), 64, 4);
  for (size_t i = 0; i < tokens.size(); ++i) {
    decoder.forward(std::span<const int32_t>(&tokens[i], 1), kv_step, one);
    double max_dev = 0;
    for (int64_t j = 0; j < V; ++j) max_dev = std::max(max_dev, double(std::fabs(one[j] - all[i * V + j])));
    // The batch goes through the prefill GEMM, single tokens through vec_dot: the same exact
    // integer block sums, added in a different float order (~1e-6 relative). This small model
    // amplifies that to a few tenths of a logit from position 2 on (f16 rounding of q and of the
    // softmax weights in attention), as it does against llama.cpp: the golden tests' tolerance.
    EXPECT_LT(max_dev, 0.5) << "position " << i;
    EXPECT_EQ(std::max_element(one.begin(), one.end()) - one.begin(),
              std::max_element(all.begin() + i * V, all.begin() + (i + 1) * V) - (all.begin() + i * V))
        << "position " << i;
  }
  EXPECT_EQ(kv_batch.size(), int64_t(tokens.size()));
  EXPECT_EQ(kv_step.size(), int64_t(tokens.size()));
}

TEST_F(DecoderTest, MultiSequenceStepEqualsSeparateSteps) {
  ThreadPool pool(2);
  Decoder decoder(*model_, pool);
  const int64_t V = model_->desc().n_vocab;
  // Two sequences at different lengths: A has a history, B is new; one step feeds both.
  std::vector<int32_t> a_history = {1, 450, 7483, 310}, a_next = {3444, 338}, b_prompt = {1, 15043, 29892};
  SequenceKvCache a(geo(), 64, 8), b(geo(), 64, 8);
  std::vector<float> scratch(a_history.size() * V);
  decoder.forward(a_history, a, scratch);
  std::vector<float> a_logits(2 * V), b_logits(V);
  const DecodeItem items[] = {{a_next, &a, a_logits.data(), true}, {b_prompt, &b, b_logits.data(), false}};
  decoder.forward(items);
  EXPECT_EQ(a.size(), 6);
  EXPECT_EQ(b.size(), 3);

  SequenceKvCache a2(geo(), 64, 8), b2(geo(), 64, 8);
  std::vector<int32_t> a_all = a_history;
  a_all.insert(a_all.end(), a_next.begin(), a_next.end());
  std::vector<float> a_ref(a_all.size() * V), b_ref(V);
  decoder.forward(a_all, a2, a_ref, true);
  decoder.forward(b_prompt, b2, b_ref);
  for (int64_t j = 0; j < V; ++j) {
    ASSERT_NEAR(a_logits[j], a_ref[4 * V + j], 1e-3);
    ASSERT_NEAR(a_logits[V + j], a_ref[5 * V + j], 1e-3);
    ASSERT_NEAR(b_logits[j], b_ref[j], 1e-3);
  }
  // A step that does not fit leaves every cache untouched.
  SequenceKvCache small(geo(), 4, 4);
  std::vector<int32_t> five = {1, 2, 3, 4, 5};
  const DecodeItem too_long[] = {{b_prompt, &b, nullptr, false}, {five, &small, nullptr, false}};
  EXPECT_THROW(decoder.forward(too_long), Error);
  EXPECT_EQ(b.size(), 3);
  EXPECT_EQ(small.size(), 0);
}

TEST_F(DecoderTest, ThreadCountDoesNotChangeResults) {
  std::vector<int32_t> tokens = {1, 450, 7483, 310};
  const int64_t V = model_->desc().n_vocab;
  std::vector<float> a(V), b(V);
  {
    ThreadPool pool(1);
    Decoder decoder(*model_, pool);
    SequenceKvCache kv(geo(), 64);
    decoder.forward(tokens, kv, a);
  }
  {
    ThreadPool pool(3);
    Decoder decoder(*model_, pool);
    SequenceKvCache kv(geo(), 64);
    decoder.forward(tokens, kv, b);
  }
  EXPECT_EQ(a, b);
}

TEST_F(DecoderTest, KvGrowsInPagesAndRefusesPastCapacity) {
  ThreadPool pool(2);
  Decoder decoder(*model_, pool);
  std::vector<float> logits(model_->desc().n_vocab);
  const auto g = geo();
  SequenceKvCache kv(g, 40, 16);
  EXPECT_EQ(kv.allocated_bytes(), 0u);
  std::vector<int32_t> tokens(20, 100);
  decoder.forward(tokens, kv, logits);
  const uint64_t page_bytes = uint64_t(16) * 2 * g.n_layer * g.n_head_kv * g.head_dim * 2;
  EXPECT_EQ(kv.allocated_bytes(), 2 * page_bytes);  // 20 tokens -> two pages of 16
  std::vector<int32_t> more(21, 100);
  try {
    decoder.forward(more, kv, logits);
    FAIL() << "expected the context to be full";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::OutOfMemory);
  }
  EXPECT_EQ(kv.size(), 20);  // the failed call stored nothing
}

TEST_F(DecoderTest, RejectsTokenIdsOutsideTheVocabulary) {
  ThreadPool pool(1);
  Decoder decoder(*model_, pool);
  std::vector<float> logits(model_->desc().n_vocab);
  SequenceKvCache kv(geo(), 16);
  std::vector<int32_t> bad = {1, int32_t(model_->desc().n_vocab)};
  EXPECT_THROW(decoder.forward(bad, kv, logits), Error);
  std::vector<int32_t> negative = {-1};
  EXPECT_THROW(decoder.forward(negative, kv, logits), Error);
  EXPECT_EQ(kv.size(), 0);
}

TEST_F(DecoderTest, DescribesTheModelFromItsMetadata) {
  const auto& d = model_->desc();
  EXPECT_EQ(d.n_layer, 4u);
  EXPECT_EQ(d.n_embd, 256u);
  EXPECT_EQ(d.n_head, 8u);
  EXPECT_EQ(d.n_head_kv, 4u);
  EXPECT_EQ(d.head_dim, 32u);
  EXPECT_EQ(d.n_ff, 768u);
  EXPECT_EQ(d.n_vocab, 32000u);
  EXPECT_EQ(d.tied_embeddings, 0);
  EXPECT_EQ(d.rope_scaling, STRATA_ROPE_SCALING_NONE);
}

TEST(ModelLoad, Llama3HasTiedEmbeddingsAndFrequencyFactors) {
  auto registry = PluginRegistry::load_default();
  auto model = Model::load(test::shared_path("models/mini-llama3-Q8_0.gguf"), registry);
  const auto& d = model->desc();
  EXPECT_EQ(d.tied_embeddings, 1);
  EXPECT_EQ(d.rope_scaling, STRATA_ROPE_SCALING_FREQ_FACTORS);
  ASSERT_EQ(model->weights().rope_freq_factors.size(), 16u);
  EXPECT_FLOAT_EQ(model->weights().rope_freq_factors[0], 1.0f);
  EXPECT_FLOAT_EQ(model->weights().rope_freq_factors[15], 8.0f);
  EXPECT_EQ(model->weights().output.data, model->weights().token_embd.data);
}

}  // namespace
}  // namespace strata
