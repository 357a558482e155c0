// The generic decoder: runs any model a family plugin describes (strata_model_desc) on the
// CPU. One forward pass takes a batch of new tokens of one sequence, appends their K/V to the
// sequence's cache, and produces logits.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/decode/matmul.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/model.h"

namespace strata {

class ThreadPool;

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

  int32_t n_vocab() const { return static_cast<int32_t>(model_.desc().n_vocab); }
  // Bytes of scratch memory held between calls (activations and converted inputs).
  uint64_t scratch_bytes() const;

 private:
  void forward_batch(std::span<const int32_t> tokens, KvCache& kv, float* logits, bool all_logits);
  void layer(int l, int64_t n, int64_t pos0, KvCache& kv);
  void norm(const TensorRef& w, const TensorRef& b, const float* x, float* y, int64_t n);
  void rope_rows(float* x, int64_t n, int n_heads, int64_t pos0);
  void matmul(const TensorRef& w, const float* x, int64_t n, float* y, const TensorRef& bias);

  const Model& model_;
  const strata_model_desc& d_;
  ThreadPool& pool_;
  MatMul mm_;
  std::vector<float> inv_freq_;  // per rotated pair: freq_scale * base^(-2i/rope_dim) / factor_i
  std::vector<KvSpan> spans_;
  // Activations of the current batch, [n][width].
  std::vector<float> x_, xn_, q_, k_, v_, attn_, tmp_, gate_, up_;
};

}  // namespace strata
