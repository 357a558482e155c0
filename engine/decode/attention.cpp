#include "engine/decode/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/threads/thread_pool.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernels.h"

namespace strata {
namespace {

// Scratch of one thread: per query head of a group, scores over positions and the query (as f32
// and as f16 bits); one decoded K/V row.
struct Scratch {
  std::vector<float> scores, q16, row, max;
  std::vector<uint16_t> qh;
};

// One token and one KV head with `G` of the query heads it serves (grouped-query attention: a KV
// group's heads are adjacent in q and out): scores over positions 0..pos,
// softmax, weighted sum of values. Each K and V row is read and decoded once for the G heads;
// per head the arithmetic is exactly that of a head on its own.
// With f16 K/V, rounding follows llama.cpp's non-flash CPU path so results agree with it
// closely: the query and the softmax weights are rounded to f16 before their dot products.
// The f16 rows go through the F16 kernels (F16C conversions, SIMD dot products), which dominate
// a long prefill; quantized K/V rows are decoded to f32 one at a time and go through the F32
// kernels (a plain loop would be one serial chain of float additions).
void attend_group(const AttentionShape& s, int G, const float* q, int64_t pos, int kv_head,
                  const std::vector<KvSpan>& spans, Scratch& w, float* out) {
  const int D = s.head_dim;
  const bool f16 = spans.empty() || spans[0].format.type == KvType::F16;
  const cpu::TypeKernels& h16 = cpu::kernels_for(TensorType::F16);
  const cpu::TypeKernels& f32 = cpu::kernels_for(TensorType::F32);
  for (int g = 0; g < G; ++g) {
    if (f16) {
      h16.from_float(q + g * D, w.qh.data() + g * D, D);
      h16.to_float(w.qh.data() + g * D, w.q16.data() + g * D, D);
    } else {
      std::copy(q + g * D, q + (g + 1) * D, w.q16.begin() + g * D);
    }
  }
  const int64_t n = pos + 1;
  w.scores.resize(static_cast<size_t>(G) * n);
  float* scores = w.scores.data();  // head g's scores at g * n
  std::vector<float>& max = w.max;
  max.assign(G, -INFINITY);
  for (const KvSpan& sp : spans) {
    const uint8_t* k = sp.k + kv_head * sp.head_stride;
    const int64_t end = std::min(sp.n_tokens, n - sp.first_pos);
    for (int64_t j = 0; j < end; ++j) {
      const uint8_t* kj = k + j * sp.token_stride;
      if (!f16) kv_decode_row(sp.format, kj, w.row.data(), D);
      for (int g = 0; g < G; ++g) {
        float dot = 0;
        if (f16) {
          dot = h16.vec_dot(D, kj, w.qh.data() + g * D);
        } else {
          dot = f32.vec_dot(D, w.row.data(), w.q16.data() + g * D);
        }
        const float v = dot * s.scale;
        scores[g * n + sp.first_pos + j] = v;
        max[g] = v > max[g] ? v : max[g];
      }
    }
  }
  for (int g = 0; g < G; ++g) {
    float* sc = scores + g * n;
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      const float e = std::exp(sc[j] - max[g]);
      sc[j] = e;
      sum += e;
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) {
      const float p = sc[j] * inv;
      sc[j] = f16 ? cpu::fp16_to_fp32(cpu::fp32_to_fp16(p)) : p;
    }
  }

  std::fill(out, out + static_cast<int64_t>(G) * D, 0.0f);
  for (const KvSpan& sp : spans) {
    const uint8_t* v = sp.v + kv_head * sp.head_stride;
    const int64_t end = std::min(sp.n_tokens, n - sp.first_pos);
    for (int64_t j = 0; j < end; ++j) {
      const uint8_t* vj = v + j * sp.token_stride;
      if (f16)
        h16.to_float(vj, w.row.data(), D);
      else
        kv_decode_row(sp.format, vj, w.row.data(), D);
      for (int g = 0; g < G; ++g) {
        const float p = scores[g * n + sp.first_pos + j];
        float* og = out + g * D;
        for (int d = 0; d < D; ++d) og[d] += p * w.row[d];
      }
    }
  }
}

}  // namespace

void attention(const AttentionShape& s, const float* q, int64_t n_tokens, int64_t pos0, const std::vector<KvSpan>& spans,
               float* out, ThreadPool& pool) {
  const int64_t row = int64_t(s.n_head) * s.head_dim;
  const int group = s.n_head / s.n_head_kv;
  // A task is one token and the heads of a KV group, or of a part of it when there are too few
  // tasks to keep every thread busy (decode with few KV heads).
  int split = 1;
  while (n_tokens * s.n_head_kv * split < int64_t{2} * pool.size() && group % (2 * split) == 0) split *= 2;
  const int heads = group / split;  // query heads per task
  const int64_t per_token = int64_t(s.n_head_kv) * split;
  const int64_t tasks = n_tokens * per_token;
  pool.run([&](int ith, int nth) {
    Scratch w;
    w.q16.resize(static_cast<size_t>(heads) * s.head_dim);
    w.row.resize(s.head_dim);
    w.qh.resize(static_cast<size_t>(heads) * s.head_dim);
    for (int64_t task = ith; task < tasks; task += nth) {
      const int64_t t = task / per_token;
      const int part = static_cast<int>(task % per_token);  // kv_head * split + part of the group
      const int64_t first = t * row + int64_t(part) * heads * s.head_dim;
      attend_group(s, heads, q + first, pos0 + t, part / split, spans, w, out + first);
    }
  });
}

}  // namespace strata
