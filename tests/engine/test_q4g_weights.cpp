// q4g weights: the row codec's error bound, the 8-bit-activation dot product and matmul against
// a float reference over the decoded rows, and whole models compressed at load: identical
// tokens whichever tier holds the compressed layers, fewer bytes, small KL against the original.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/decode/decoder.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "engine/model/synth.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/sampler/sampler.h"
#include "engine/threads/thread_pool.h"
#include "engine/weights/q4g_codec.h"
#include "engine/weights/q4g_matmul.h"
#include "engine/weights/weight_quality.h"
#include "kernels/cpu/fp16.h"
#include "tests/support/test_paths.h"
#include "tests/support/synth_shape.h"

namespace strata {
namespace {

std::vector<float> random_row(std::mt19937& rng, int64_t n, float spread, float offset) {
  std::normal_distribution<float> dist(offset, spread);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

TEST(Q4gCodec, RoundTripWithinHalfAStepPerGroup) {
  std::mt19937 rng(3);
  for (float spread : {1e-3f, 0.05f, 1.0f, 30.0f})
    for (float offset : {0.0f, 0.5f, -4.0f}) {
      const int64_t n = 256;
      const auto x = random_row(rng, n, spread, offset);
      std::vector<uint8_t> enc(q4g_row_bytes(n));
      std::vector<float> y(n);
      q4g_encode_row(x.data(), enc.data(), n);
      q4g_decode_row(enc.data(), y.data(), n);
      for (int64_t g = 0; g < n; g += kQ4gGroup) {
        float lo = x[g], hi = x[g];
        for (int64_t i = g; i < g + kQ4gGroup; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
        // Half a code step, plus the f16 rounding of the stored minimum and scale.
        const float step = (hi - lo) / 15.0f;
        const float bound = 0.5f * step * 1.01f + std::fabs(lo) * 1e-3f + 1e-6f;
        for (int64_t i = g; i < g + kQ4gGroup; ++i)
          ASSERT_LE(std::fabs(x[i] - y[i]), bound) << "spread " << spread << " offset " << offset << " at " << i;
      }
    }
  EXPECT_EQ(q4g_row_bytes(4096), 4096u / 64 * 36);  // 4.5 bits per element
}

TEST(Q4gCodec, ConstantGroupsAreExactInF16) {
  std::vector<float> x(64, 0.375f), y(64);
  std::vector<uint8_t> enc(q4g_row_bytes(64));
  q4g_encode_row(x.data(), enc.data(), 64);
  q4g_decode_row(enc.data(), y.data(), 64);
  for (float v : y) EXPECT_EQ(v, 0.375f);
}

TEST(Q4gMatMul, MatchesAFloatReferenceOverDecodedRows) {
  std::mt19937 rng(5);
  const int64_t cols = 512, rows = 96, tokens = 3;
  std::vector<uint8_t> w(rows * q4g_row_bytes(cols));
  std::vector<float> decoded(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = random_row(rng, cols, 0.02f, 0.001f * r);
    q4g_encode_row(row.data(), w.data() + r * q4g_row_bytes(cols), cols);
    q4g_decode_row(w.data() + r * q4g_row_bytes(cols), decoded.data() + r * cols, cols);
  }
  TensorRef t;
  t.type = TensorType::F16;
  t.codec = TensorCodec::Q4G;
  t.n_dims = 2;
  t.dims = {cols, rows, 1, 1};
  t.data = w.data();
  t.bytes = w.size();
  std::vector<float> x(tokens * cols), y(tokens * rows);
  for (int64_t t0 = 0; t0 < tokens; ++t0) {
    const auto row = random_row(rng, cols, 1.0f, 0.0f);
    std::copy(row.begin(), row.end(), x.begin() + t0 * cols);
  }
  ThreadPool pool(2);
  Q4gMatMul mm;
  mm.run(t, x.data(), tokens, y.data(), pool);
  for (int64_t k = 0; k < tokens; ++k) {
    // The activations' 8-bit rounding is the only difference from the float reference.
    std::vector<Q4gActivationBlock> xq(cols / 32);
    q4g_quantize_activation(x.data() + k * cols, xq.data(), cols);
    for (int64_t r = 0; r < rows; ++r) {
      double exact = 0, with_q8 = 0, mag = 0;
      for (int64_t i = 0; i < cols; ++i) {
        const double xi = x[k * cols + i], wi = decoded[r * cols + i];
        exact += wi * xi;
        with_q8 += wi * xq[i / 32].d * xq[i / 32].q[i % 32];
        mag += std::fabs(wi * xi);
      }
      EXPECT_NEAR(y[k * rows + r], with_q8, 1e-4 * mag + 1e-6) << "row " << r;
      EXPECT_NEAR(y[k * rows + r], exact, 0.02 * mag + 1e-5) << "row " << r;
    }
  }
}

const PluginRegistry& plugins() {
  static const PluginRegistry r = PluginRegistry::load_default();
  return r;
}

const std::filesystem::path& f16_model() {
  static const std::filesystem::path path = [] {
    SynthSpec s = test::synth_shape(256, 4, 4, 2, 512, 256);
    s.type = TensorType::F16;
    s.output_type = TensorType::Q8_0;  // keeps the always-resident globals small
    s.seed = 21;
    const auto p = test::temp_dir("q4g") / "model-f16.gguf";
    synthesize_model(s, p);
    return p;
  }();
  return path;
}

std::vector<int32_t> greedy(const Model& model, int n) {
  ThreadPool pool(2);
  Decoder decoder(model, pool);
  const auto& d = model.desc();
  SequenceKvCache kv({int(d.n_layer), int(d.n_head_kv), int(d.head_dim)}, 64);
  std::vector<float> logits(d.n_vocab);
  std::vector<int32_t> prompt{1, 450, 4996, 17354, 1701};
  decoder.forward(prompt, kv, logits);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    const int32_t t = argmax(logits);
    out.push_back(t);
    decoder.forward(std::span<const int32_t>(&t, 1), kv, logits);
  }
  return out;
}

TEST(Q4gModel, CompressedLayersGiveTheSameTokensInEveryTier) {
  WeightOptions o;
  o.format = WeightFormat::Q4G;
  o.shares = TierShares{0, 100, 0};
  auto ram = Model::load(f16_model(), plugins(), o);
  const auto& wq = ram->weights().layers[0].wq;
  EXPECT_EQ(wq.codec, TensorCodec::Q4G);
  EXPECT_EQ(wq.bytes, uint64_t(wq.rows()) * q4g_row_bytes(wq.cols()));
  EXPECT_EQ(ram->weights().layers[0].attn_norm.codec, TensorCodec::Native);  // vectors stay f32
  const auto tokens = greedy(*ram, 10);
  for (const char* shares : {"ssd=100", "ram=50,ssd=50"}) {
    SCOPED_TRACE(shares);
    o.shares = TierShares::parse(shares, "test");
    o.spill_dir = test::temp_dir("q4g-spill");
    auto m = Model::load(f16_model(), plugins(), o);
    EXPECT_EQ(greedy(*m, 10), tokens);
    const auto s = m->weight_store().stats();
    EXPECT_GT(s.ssd_bytes_read, 0u);
    // The SSD tier moves compressed layers: well under half of f16's bytes.
    auto native = Model::load(f16_model(), plugins());
    uint64_t f16_layers = 0;
    for (const auto& L : native->weights().layers) f16_layers += L.wq.bytes + L.wk.bytes + L.wv.bytes + L.wo.bytes +
                                                                  L.ffn_gate.bytes + L.ffn_up.bytes + L.ffn_down.bytes;
    EXPECT_LT(s.ssd_bytes_read / s.steps, f16_layers / 2);
  }
}

TEST(Q4gModel, KlAgainstTheUncompressedModelIsSmall) {
  auto ref = Model::load(f16_model(), plugins());
  WeightOptions o;
  o.format = WeightFormat::Q4G;
  o.shares = TierShares{0, 100, 0};
  auto cmp = Model::load(f16_model(), plugins(), o);
  std::vector<int32_t> tokens;
  std::mt19937 rng(9);
  for (int i = 0; i < 48; ++i) tokens.push_back(int32_t(rng() % 32000));
  ThreadPool pool(2);
  const WeightQuality q = compare_weights(*ref, *cmp, tokens, pool);
  EXPECT_EQ(q.positions, 47);
  EXPECT_GT(q.mean_kl, 0.0);   // compression changed something
  EXPECT_LT(q.mean_kl, 0.05);  // and not much: random weights, 4.5 bits
  const WeightQuality same = compare_weights(*ref, *ref, tokens, pool);
  EXPECT_NEAR(same.mean_kl, 0.0, 1e-9);
  EXPECT_EQ(same.greedy_agreement, 1.0);
}

}  // namespace
}  // namespace strata
