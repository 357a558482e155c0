// The generic decoder: runs any model a family plugin describes (strata_model_desc) on the
// CPU. One forward pass takes a batch of new tokens of one sequence, appends their K/V to the
// sequence's cache, and produces logits.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "engine/decode/matmul.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/model.h"
#include "engine/weights/q4g_matmul.h"

namespace strata {

class ThreadPool;

// New tokens of one sequence in a multi-sequence step.
struct DecodeItem {
  std::span<const int32_t> tokens;  // at positions kv->size() .. kv->size() + n - 1
  KvCache* kv = nullptr;
  // Logits of the last token (n_vocab floats), or of every token ([n][n_vocab]) when
  // all_logits; null when none are wanted (a prefill chunk that is not the prompt's last).
  float* logits = nullptr;
  bool all_logits = false;
};

class Decoder {
 public:
  // Prompts longer than this are processed in several passes, bounding scratch memory.
  static constexpr int64_t kMaxBatch = 512;

  Decoder(const Model& model, ThreadPool& pool);

  // Runs `tokens` at positions kv.size() .. kv.size() + n - 1 and appends their K/V to `kv`.
  // Writes the logits of the last token into `logits` (n_vocab floats), or, when
  // `all_logits` is true, of every token ([n][n_vocab]). Throws Error(InvalidArgument) for a
  // token id outside the vocabulary and Error(OutOfMemory) when the context is full.
  void forward(std::span<const int32_t> tokens, KvCache& kv, std::span<float> logits, bool all_logits = false);

  // One step over several sequences: their tokens go through every matmul together (which is
  // what makes batching pay), attention runs per sequence over its own cache. Each item's
  // sequence must differ. Validates every item before changing any cache.
  void forward(std::span<const DecodeItem> items);

  int32_t n_vocab() const { return static_cast<int32_t>(model_.desc().n_vocab); }
  // Bytes of scratch memory held between calls (activations and converted inputs).
  uint64_t scratch_bytes() const;

 private:
  // Rows of the batch that belong to one item.
  struct Segment {
    int64_t first_row = 0, n = 0, pos0 = 0;
    KvCache* kv = nullptr;
  };
  void run_step(std::span<const DecodeItem> items);
  void layer(int l, int64_t n);
  void norm(const TensorRef& w, const TensorRef& b, const float* x, float* y, int64_t n);
  void rope_rows(float* x, int n_heads);
  void check_tokens(std::span<const int32_t> tokens) const;
  void matmul(const TensorRef& w, const float* x, int64_t n, float* y, const TensorRef& bias);
  // y = W x + bias for matrices that take the same input (Q, K, V; gate, up), in one MatMul
  // call where it can run them together.
  struct Projection {
    const TensorRef& w;
    float* y;
    const TensorRef& bias;
  };
  void matmuls(std::initializer_list<Projection> projections, const float* x, int64_t n);

  const Model& model_;
  const strata_model_desc& d_;
  ThreadPool& pool_;
  MatMul mm_;
  Q4gMatMul q4g_mm_;  // matrices the tiered store compressed to q4g
  std::vector<float> inv_freq_;  // per rotated pair: freq_scale * base^(-2i/rope_dim) / factor_i
  std::vector<KvSpan> spans_;
  std::vector<Segment> segments_;
  std::vector<int64_t> positions_;  // per batch row
  std::vector<int64_t> logit_rows_;  // batch rows whose logits are wanted
  std::vector<float> rope_cos_, rope_sin_;  // one token's angles, per rotated pair
  // Activations of the current batch, [n][width].
  std::vector<float> x_, xn_, q_, k_, v_, attn_, tmp_, gate_, up_, out_logits_;
};

}  // namespace strata
