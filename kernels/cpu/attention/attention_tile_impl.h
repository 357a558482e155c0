// The attention tile loops shared by the AVX2 and AVX-512 files, written once over a lane type
// L of 16 floats (one __m512, or two __m256). Include only from files compiled with AVX2 (or
// wider) flags; everything is static inline. See attention_tile.h for the layouts.
//
// L provides: V, zero(), load(p), store(p, v), set1(x), fmadd(a, b, c) = a * b + c, add, sub, mul,
// max, select_le(a, b, x, y) = a <= b ? x : y, round_nearest(v), ldexp(v, n) = v * 2^n for
// integral n in [-126, 127], round_f16(v).
//
// The decode row kernels take a register type C of kWidth floats (one __m512, or one __m256) with
// the same operations, plus sum_each(acc[kWidth]): a vector whose lane i is the sum of the lanes of
// acc[i] (the dot products of kWidth keys, reduced together).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/attention/attention_tile.h"
#include "kernels/cpu/vec_exp.h"

namespace strata::cpu::detail {

void q4g_to_float_reference(const uint8_t* src, float* dst, int n, int group);

// KB keys at a time: KB accumulators of 16 rows; each step loads one row of qt and broadcasts
// one element of each of the KB keys.
template <class L, int KB>
static inline void attention_scores(const float* qt, const float* keys, int n_keys, int D, float scale,
                                    float key_pos0, const float* limit, float* s) {
  using V = typename L::V;
  const V lim = L::load(limit);
  const V neg_inf = L::set1(-INFINITY);
  const V sc = L::set1(scale);
  auto finish = [&](V acc, int k) {
    L::store(s + k * kAttentionLanes,
             L::select_le(L::set1(key_pos0 + static_cast<float>(k)), lim, L::mul(acc, sc), neg_inf));
  };
  int k = 0;
  for (; k + KB <= n_keys; k += KB) {
    const float* kr = keys + static_cast<int64_t>(k) * D;
    V acc[KB];
#pragma GCC unroll 16
    for (int i = 0; i < KB; ++i) acc[i] = L::zero();
    for (int d = 0; d < D; ++d) {
      const V q = L::load(qt + d * kAttentionLanes);
#pragma GCC unroll 16
      for (int i = 0; i < KB; ++i) acc[i] = L::fmadd(L::set1(kr[i * D + d]), q, acc[i]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < KB; ++i) finish(acc[i], k + i);
  }
  for (; k < n_keys; ++k) {
    const float* kr = keys + static_cast<int64_t>(k) * D;
    V acc = L::zero();
    for (int d = 0; d < D; ++d) acc = L::fmadd(L::set1(kr[d]), L::load(qt + d * kAttentionLanes), acc);
    finish(acc, k);
  }
}

template <class L>
static inline void attention_max_sum(const float* s, int n_keys, float* max, double* sum) {
  using V = typename L::V;
  V tile_max = L::set1(-INFINITY);
  for (int k = 0; k < n_keys; ++k) tile_max = L::max(tile_max, L::load(s + k * kAttentionLanes));
  const V old_max = L::load(max);
  const V new_max = L::max(old_max, tile_max);
  V part = L::zero();
  for (int k = 0; k < n_keys; ++k)
    part = L::add(part, exp_nonpositive<L>(L::sub(L::load(s + k * kAttentionLanes), new_max)));
  alignas(64) float o[kAttentionLanes], m[kAttentionLanes], p[kAttentionLanes];
  L::store(o, old_max);
  L::store(m, new_max);
  L::store(p, part);
  for (int r = 0; r < kAttentionLanes; ++r) {
    // The max grows in the first tiles and then rarely: rescale only then.
    if (m[r] > o[r]) sum[r] *= std::exp(static_cast<double>(o[r]) - m[r]);
    sum[r] += p[r];
    max[r] = m[r];
  }
}

template <class L>
static inline void attention_weights(float* s, int n_keys, const float* max, const float* inv_sum, bool round_f16) {
  using V = typename L::V;
  const V m = L::load(max), inv = L::load(inv_sum);
  for (int k = 0; k < n_keys; ++k) {
    float* sk = s + k * kAttentionLanes;
    V p = L::mul(exp_nonpositive<L>(L::sub(L::load(sk), m)), inv);
    if (round_f16) p = L::round_f16(p);
    L::store(sk, p);
  }
}

// DB output dimensions at a time: DB accumulators of 16 rows; each key loads its 16 weights once
// and broadcasts DB of its values.
template <class L, int DB>
static inline void attention_accumulate(const float* p, const float* values, int n_keys, int D, float* ot) {
  using V = typename L::V;
  int d = 0;
  for (; d + DB <= D; d += DB) {
    V acc[DB];
#pragma GCC unroll 16
    for (int j = 0; j < DB; ++j) acc[j] = L::load(ot + (d + j) * kAttentionLanes);
    for (int k = 0; k < n_keys; ++k) {
      const V pk = L::load(p + k * kAttentionLanes);
      const float* vk = values + static_cast<int64_t>(k) * D + d;
#pragma GCC unroll 16
      for (int j = 0; j < DB; ++j) acc[j] = L::fmadd(L::set1(vk[j]), pk, acc[j]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < DB; ++j) L::store(ot + (d + j) * kAttentionLanes, acc[j]);
  }
  for (; d < D; ++d) {
    V acc = L::load(ot + d * kAttentionLanes);
    for (int k = 0; k < n_keys; ++k)
      acc = L::fmadd(L::set1(values[static_cast<int64_t>(k) * D + d]), L::load(p + k * kAttentionLanes), acc);
    L::store(ot + d * kAttentionLanes, acc);
  }
}

// q4g decoding with Unpack32(bytes, min, scale, dst), which writes the 32 elements of 16 bytes of
// nibbles. Groups that are not a multiple of 32 elements go to the reference.
template <class Unpack32>
static inline void q4g_to_float(const uint8_t* src, float* dst, int n, int group) {
  if (group % 32 != 0) return q4g_to_float_reference(src, dst, n, group);
  for (int g0 = 0; g0 < n; g0 += group, src += 4 + group / 2) {
    const __m128 lo_scale = _mm_cvtph_ps(_mm_loadu_si32(src));
    const float lo = _mm_cvtss_f32(lo_scale), scale = _mm_cvtss_f32(_mm_movehdup_ps(lo_scale));
    for (int i = 0; i < group; i += 32) Unpack32::run(src + 4 + i / 2, lo, scale, dst + g0 + i);
  }
}

// The 32 nibbles of 16 bytes in element order: low and high nibbles interleaved.
static inline void q4g_nibbles(const uint8_t* q, __m128i& first16, __m128i& last16) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(bytes, mask), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  first16 = _mm_unpacklo_epi8(lo, hi);
  last16 = _mm_unpackhi_epi8(lo, hi);
}

// Decode scores: for each query row, kWidth keys at a time, one accumulator per key over the
// head's chunks of kWidth elements, then the kWidth dot products reduced in one go.
template <class C>
static inline void attention_row_scores(const float* q, int rows, const float* keys, int n_keys, int D, float scale,
                                        float* s, int64_t s_stride) {
  using V = typename C::V;
  constexpr int W = C::kWidth;
  for (int r = 0; r < rows; ++r) {
    const float* qr = q + r * D;
    float* sr = s + r * s_stride;
    for (int k = 0; k < n_keys; k += W) {
      const int nk = std::min(W, n_keys - k);
      V acc[W];
#pragma GCC unroll 16
      for (int i = 0; i < W; ++i) acc[i] = C::zero();
      for (int c = 0; c < D; c += W) {
        const V qc = C::load(qr + c);
        if (nk == W) {
#pragma GCC unroll 16
          for (int i = 0; i < W; ++i) acc[i] = C::fmadd(qc, C::load(keys + int64_t(k + i) * D + c), acc[i]);
        } else {
          for (int i = 0; i < nk; ++i) acc[i] = C::fmadd(qc, C::load(keys + int64_t(k + i) * D + c), acc[i]);
        }
      }
      const V dots = C::mul(C::sum_each(acc), C::set1(scale));
      if (nk == W) {
        C::store(sr + k, dots);
      } else {
        alignas(64) float tmp[W];
        C::store(tmp, dots);
        std::memcpy(sr + k, tmp, sizeof(float) * size_t(nk));
      }
    }
  }
}

// Applies f(V) -> V to s[0..n) in vectors; the last partial vector goes through a buffer padded
// with `pad`.
template <class C, class F>
static inline void attention_row_map(float* s, int64_t n, float pad, F&& f) {
  constexpr int W = C::kWidth;
  int64_t k = 0;
  for (; k + W <= n; k += W) C::store(s + k, f(C::load(s + k)));
  if (k == n) return;
  alignas(64) float tmp[W];
  for (int i = 0; i < W; ++i) tmp[i] = k + i < n ? s[k + i] : pad;
  C::store(tmp, f(C::load(tmp)));
  std::memcpy(s + k, tmp, sizeof(float) * size_t(n - k));
}

template <class C>
static inline float attention_lane_sum(typename C::V v) {
  alignas(64) float tmp[C::kWidth];
  C::store(tmp, v);
  float t = 0;
  for (float x : tmp) t += x;
  return t;
}

template <class C>
static inline void attention_row_softmax(float* s, int64_t n, bool round_f16) {
  using V = typename C::V;
  constexpr int W = C::kWidth;
  V vmax = C::set1(-INFINITY);
  attention_row_map<C>(s, n, -INFINITY, [&](V v) {
    vmax = C::max(vmax, v);
    return v;
  });
  alignas(64) float lanes[W];
  C::store(lanes, vmax);
  float max = -INFINITY;
  for (float x : lanes) max = std::max(max, x);
  // The exponentials, summed in float over runs of 64 and then in double (padding adds e^-inf = 0).
  const V m = C::set1(max);
  double sum = 0;
  for (int64_t k0 = 0; k0 < n; k0 += 64) {
    V part = C::zero();
    attention_row_map<C>(s + k0, std::min<int64_t>(64, n - k0), -INFINITY, [&](V v) {
      const V e = exp_nonpositive<C>(C::sub(v, m));
      part = C::add(part, e);
      return e;
    });
    sum += attention_lane_sum<C>(part);
  }
  const V inv = C::set1(static_cast<float>(1.0 / sum));
  attention_row_map<C>(s, n, 0.0f, [&](V v) {
    const V p = C::mul(v, inv);
    return round_f16 ? C::round_f16(p) : p;
  });
}

// Decode values: R rows by NC chunks of kWidth elements in registers; each key loads its NC
// chunks once and adds them, scaled by its weight in each row, into every row.
template <class C, int R, int NC>
static inline void attention_row_accumulate_rows(const float* p, int64_t p_stride, const float* values, int n_keys,
                                                 int D, float* o) {
  using V = typename C::V;
  constexpr int W = C::kWidth;
  for (int c0 = 0; c0 < D; c0 += NC * W) {
    V acc[R][NC];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) acc[r][c] = C::load(o + r * D + c0 + c * W);
    for (int k = 0; k < n_keys; ++k) {
      V vk[NC];
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) vk[c] = C::load(values + int64_t(k) * D + c0 + c * W);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const V pk = C::set1(p[r * p_stride + k]);
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) acc[r][c] = C::fmadd(pk, vk[c], acc[r][c]);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) C::store(o + r * D + c0 + c * W, acc[r][c]);
  }
}

template <class C>
static inline void attention_row_accumulate(const float* p, int rows, int64_t p_stride, const float* values,
                                            int n_keys, int D, float* o) {
  constexpr int W = C::kWidth;
  const bool four = D % (4 * W) == 0;
  switch (rows) {
    case 1: return four ? attention_row_accumulate_rows<C, 1, 4>(p, p_stride, values, n_keys, D, o)
                        : attention_row_accumulate_rows<C, 1, 1>(p, p_stride, values, n_keys, D, o);
    case 2: return four ? attention_row_accumulate_rows<C, 2, 4>(p, p_stride, values, n_keys, D, o)
                        : attention_row_accumulate_rows<C, 2, 1>(p, p_stride, values, n_keys, D, o);
    case 3: return four ? attention_row_accumulate_rows<C, 3, 4>(p, p_stride, values, n_keys, D, o)
                        : attention_row_accumulate_rows<C, 3, 1>(p, p_stride, values, n_keys, D, o);
    default: return four ? attention_row_accumulate_rows<C, 4, 4>(p, p_stride, values, n_keys, D, o)
                         : attention_row_accumulate_rows<C, 4, 1>(p, p_stride, values, n_keys, D, o);
  }
}

template <class L, int KB, int DB, class Unpack32, class C>
static inline AttentionTileKernels attention_tile_table() {
  AttentionTileKernels t{};
  t.scores = [](const float* qt, const float* keys, int n_keys, int D, float scale, float key_pos0, const float* limit,
                float* s) { attention_scores<L, KB>(qt, keys, n_keys, D, scale, key_pos0, limit, s); };
  t.max_sum = [](const float* s, int n_keys, float* max, double* sum) { attention_max_sum<L>(s, n_keys, max, sum); };
  t.weights = [](float* s, int n_keys, const float* max, const float* inv_sum, bool round_f16) {
    attention_weights<L>(s, n_keys, max, inv_sum, round_f16);
  };
  t.accumulate = [](const float* p, const float* values, int n_keys, int D, float* ot) {
    attention_accumulate<L, DB>(p, values, n_keys, D, ot);
  };
  t.q4g_to_float = q4g_to_float<Unpack32>;
  t.row_scores = attention_row_scores<C>;
  t.row_softmax = attention_row_softmax<C>;
  t.row_accumulate = attention_row_accumulate<C>;
  return t;
}

}  // namespace strata::cpu::detail
