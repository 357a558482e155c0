#include "engine/decode/attention.h"

#include <cassert>
#include <cmath>
#include <vector>

#include "engine/threads/thread_pool.h"
#include "kernels/cpu/fp16.h"

namespace strata {
namespace {

// One (token, head) pair: scores over positions 0..pos, softmax, weighted sum of values.
// Rounding follows llama.cpp's non-flash CPU path so results agree with it closely: the query
// and the softmax weights are rounded to f16 before their dot products with f16 K and V.
void attend_one(const AttentionShape& s, const float* q, int64_t pos, int kv_head, const std::vector<KvSpan>& spans,
                std::vector<float>& scores, std::vector<float>& q16, float* out) {
  const int D = s.head_dim;
  for (int d = 0; d < D; ++d) q16[d] = cpu::fp16_to_fp32(cpu::fp32_to_fp16(q[d]));
  const int64_t n = pos + 1;
  scores.resize(n);
  float max = -INFINITY;
  for (const KvSpan& sp : spans) {
    assert(sp.type == TensorType::F16);
    const auto* k = static_cast<const uint16_t*>(sp.k) + kv_head * sp.head_stride;
    const int64_t end = std::min(sp.n_tokens, n - sp.first_pos);
    for (int64_t j = 0; j < end; ++j) {
      const uint16_t* kj = k + j * sp.token_stride;
      float dot = 0;
      for (int d = 0; d < D; ++d) dot += q16[d] * cpu::fp16_to_fp32(kj[d]);
      const float v = dot * s.scale;
      scores[sp.first_pos + j] = v;
      max = v > max ? v : max;
    }
  }
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float e = std::exp(scores[j] - max);
    scores[j] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) scores[j] = cpu::fp16_to_fp32(cpu::fp32_to_fp16(scores[j] * inv));

  for (int d = 0; d < D; ++d) out[d] = 0;
  for (const KvSpan& sp : spans) {
    const auto* v = static_cast<const uint16_t*>(sp.v) + kv_head * sp.head_stride;
    const int64_t end = std::min(sp.n_tokens, n - sp.first_pos);
    for (int64_t j = 0; j < end; ++j) {
      const float p = scores[sp.first_pos + j];
      const uint16_t* vj = v + j * sp.token_stride;
      for (int d = 0; d < D; ++d) out[d] += p * cpu::fp16_to_fp32(vj[d]);
    }
  }
}

}  // namespace

void attention(const AttentionShape& s, const float* q, int64_t n_tokens, int64_t pos0, const std::vector<KvSpan>& spans,
               float* out, ThreadPool& pool) {
  const int64_t row = int64_t(s.n_head) * s.head_dim;
  const int group = s.n_head / s.n_head_kv;
  const int64_t tasks = n_tokens * s.n_head;
  pool.run([&](int ith, int nth) {
    std::vector<float> scores, q16(s.head_dim);
    for (int64_t task = ith; task < tasks; task += nth) {
      const int64_t t = task / s.n_head;
      const int h = static_cast<int>(task % s.n_head);
      attend_one(s, q + t * row + int64_t(h) * s.head_dim, pos0 + t, h / group, spans, scores, q16,
                 out + t * row + int64_t(h) * s.head_dim);
    }
  });
}

}  // namespace strata
