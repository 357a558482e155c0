#include "engine/decode/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/threads/thread_pool.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernels.h"

namespace strata {
namespace {

// Scratch of one thread: scores over positions, the query (as f32 and as f16 bits), a decoded
// K/V row.
struct Scratch {
  std::vector<float> scores, q16, row;
  std::vector<uint16_t> qh;
};

// One (token, head) pair: scores over positions 0..pos, softmax, weighted sum of values.
// With f16 K/V, rounding follows llama.cpp's non-flash CPU path so results agree with it
// closely: the query and the softmax weights are rounded to f16 before their dot products.
// The f16 rows go through the F16 kernels (F16C conversions, SIMD dot products), which dominate
// a long prefill; quantized K/V rows are decoded to f32 one at a time.
void attend_one(const AttentionShape& s, const float* q, int64_t pos, int kv_head, const std::vector<KvSpan>& spans,
                Scratch& w, float* out) {
  const int D = s.head_dim;
  const bool f16 = spans.empty() || spans[0].format.type == KvType::F16;
  const cpu::TypeKernels& h16 = cpu::kernels_for(TensorType::F16);
  if (f16) {
    h16.from_float(q, w.qh.data(), D);
    h16.to_float(w.qh.data(), w.q16.data(), D);
  } else {
    std::copy(q, q + D, w.q16.begin());
  }
  const int64_t n = pos + 1;
  w.scores.resize(n);
  float max = -INFINITY;
  for (const KvSpan& sp : spans) {
    const uint8_t* k = sp.k + kv_head * sp.head_stride;
    const int64_t end = std::min(sp.n_tokens, n - sp.first_pos);
    for (int64_t j = 0; j < end; ++j) {
      const uint8_t* kj = k + j * sp.token_stride;
      float dot = 0;
      if (f16) {
        dot = h16.vec_dot(D, kj, w.qh.data());
      } else {
        kv_decode_row(sp.format, kj, w.row.data(), D);
        for (int d = 0; d < D; ++d) dot += w.q16[d] * w.row[d];
      }
      const float v = dot * s.scale;
      w.scores[sp.first_pos + j] = v;
      max = v > max ? v : max;
    }
  }
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float e = std::exp(w.scores[j] - max);
    w.scores[j] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) {
    const float p = w.scores[j] * inv;
    w.scores[j] = f16 ? cpu::fp16_to_fp32(cpu::fp32_to_fp16(p)) : p;
  }

  for (int d = 0; d < D; ++d) out[d] = 0;
  for (const KvSpan& sp : spans) {
    const uint8_t* v = sp.v + kv_head * sp.head_stride;
    const int64_t end = std::min(sp.n_tokens, n - sp.first_pos);
    for (int64_t j = 0; j < end; ++j) {
      const float p = w.scores[sp.first_pos + j];
      const uint8_t* vj = v + j * sp.token_stride;
      if (f16)
        h16.to_float(vj, w.row.data(), D);
      else
        kv_decode_row(sp.format, vj, w.row.data(), D);
      for (int d = 0; d < D; ++d) out[d] += p * w.row[d];
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
    Scratch w;
    w.q16.resize(s.head_dim);
    w.row.resize(s.head_dim);
    w.qh.resize(s.head_dim);
    for (int64_t task = ith; task < tasks; task += nth) {
      const int64_t t = task / s.n_head;
      const int h = static_cast<int>(task % s.n_head);
      attend_one(s, q + t * row + int64_t(h) * s.head_dim, pos0 + t, h / group, spans, w,
                 out + t * row + int64_t(h) * s.head_dim);
    }
  });
}

}  // namespace strata
