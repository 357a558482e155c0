// Reference kernels of the K-quants: Q4_K, Q5_K, Q6_K (weights) and Q8_K (their activations).
// Layouts: quant_blocks.h. Every K-quant block covers 256 elements (a super-block).
//
//   Q4_K / Q5_K: 8 sub-blocks of 32 elements; element x = d*sc[j] * q - dmin*m[j], with q 4 or
//                5 bits, sc[j] / m[j] 6-bit integers (unpack_q4k_scales), d / dmin fp16.
//   Q6_K:        16 sub-blocks of 16 elements; x = d * scales[k] * (q - 32), q 6 bits, scales
//                int8, d fp16.
//   Q8_K:        x = d * qs[j], d a float; bsums[k] = sum of qs[16k..16k+15] (saves the dot
//                products the work of summing activations for the min / -32 terms).
//
// The dot products add exact integer sums per super-block and scale them once, as ggml does;
// optimized variants compute the very same integers, so they differ from this only in the order
// of float additions across super-blocks.
//
// The weight quantizers are our own (a small search per sub-block, then 6/8-bit scales); they
// write valid blocks of decent accuracy but need not match llama-quantize bit for bit. The Q8_K
// quantizer follows ggml exactly, because activations must round as llama.cpp rounds them.
#include <algorithm>
#include <cassert>
#include <cmath>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/reference/rounding.h"

namespace strata::cpu::detail {
namespace {

// ---- shared bit access ----

// The 4 low bits of element e (0..255) of a Q4_K / Q5_K super-block.
inline int low_nibble_k(const uint8_t* qs, int e) {
  const int chunk = e / 64, l = e % 64;  // 64 elements share 32 bytes: low nibbles, then high
  return l < 32 ? (qs[32 * chunk + l] & 0x0F) : (qs[32 * chunk + l - 32] >> 4);
}

// Bit 4 of element e of a Q5_K super-block: bit (e / 32) of qh[e % 32].
inline int high_bit_q5k(const uint8_t* qh, int e) { return (qh[e % 32] >> (e / 32)) & 1; }

// The 6-bit value (0..63) of element e of a Q6_K super-block.
inline int q6k_value(const BlockQ6_K& b, int e) {
  const int half = e / 128, l = e % 128;
  const uint8_t* ql = b.ql + 64 * half;
  const uint8_t* qh = b.qh + 32 * half;
  const int quarter = l / 32, k = l % 32;  // quarter: which 2 bits of qh[k]
  const int low = quarter == 0 ? (ql[k] & 0x0F)
                : quarter == 1 ? (ql[32 + k] & 0x0F)
                : quarter == 2 ? (ql[k] >> 4)
                               : (ql[32 + k] >> 4);
  return low | (((qh[k] >> (2 * quarter)) & 3) << 4);
}

// ---- quantizer building blocks ----

// Fits x[0..n) ~ s * q - m with integer q in [0, qmax], s >= 0 and m >= 0 (the formats subtract
// an unsigned min). Each candidate rounds x on a grid of scales around (max - min) / qmax, then
// fits s and m to those q by least squares; the fit of least squared error wins (its error comes
// from the sums in closed form: no second pass over x).
struct ScaleMin {
  float scale;
  float min;
};

ScaleMin fit_scale_min(const float* x, int n, int qmax) {
  float lo = 0.0f, hi = x[0];
  double sx = 0, sxx = 0;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sx += x[i];
    sxx += static_cast<double>(x[i]) * x[i];
  }
  if (hi <= lo) return {0.0f, -lo};  // every x equals lo <= 0
  ScaleMin best{(hi - lo) / static_cast<float>(qmax), -lo};
  double best_err = INFINITY;
  for (int step = -4; step <= 6; ++step) {
    const float iscale = (static_cast<float>(qmax) + 0.25f * static_cast<float>(step)) / (hi - lo);
    int sq = 0, sqq = 0;
    float sqx = 0;
    for (int i = 0; i < n; ++i) {
      const int q = nearest_int_clamped(iscale * (x[i] - lo), 0, qmax);
      sq += q;
      sqq += q * q;
      sqx += static_cast<float>(q) * x[i];
    }
    // Least squares x ~ s q + b; the format needs b <= 0 (b = -m), else refit through b = 0.
    const double det = static_cast<double>(n) * sqq - static_cast<double>(sq) * sq;
    if (det <= 0) continue;
    double s = (n * static_cast<double>(sqx) - sq * sx) / det;
    double b = (sqq * sx - sq * static_cast<double>(sqx)) / det;
    if (b > 0) {
      b = 0;
      s = sqx / static_cast<double>(sqq);
    }
    if (!(s > 0)) continue;
    // sum (s q + b - x)^2 expanded.
    const double err = s * s * sqq + 2 * s * b * sq + n * b * b - 2 * s * sqx - 2 * b * sx + sxx;
    if (err < best_err) {
      best_err = err;
      best = {static_cast<float>(s), static_cast<float>(-b)};
    }
  }
  return best;
}

// Fits x[0..n) ~ s * q with integer q in [-32, 31]. Candidates map the largest-magnitude value
// near -32 (the longer side of the range); each is refined by least squares (s = sum(qx) /
// sum(qq), leaving the error sum(xx) - sum(qx)^2 / sum(qq)).
float fit_scale_symmetric(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  if (amax == 0.0f) return 0.0f;
  float best = max / -32.0f;
  double best_gain = 0;  // sum(qx)^2 / sum(qq): the larger, the smaller the error
  for (int step = -4; step <= 6; ++step) {
    const float iscale = -(32.0f + 0.25f * static_cast<float>(step)) / max;
    int sqq = 0;
    float sqx = 0;
    for (int i = 0; i < n; ++i) {
      const int q = nearest_int_clamped(iscale * x[i], -32, 31);
      sqq += q * q;
      sqx += static_cast<float>(q) * x[i];
    }
    if (sqq == 0 || sqx == 0) continue;
    const double gain = static_cast<double>(sqx) * sqx / sqq;
    if (gain > best_gain) {
      best_gain = gain;
      best = static_cast<float>(sqx / static_cast<double>(sqq));
    }
  }
  return best;
}

// Q4_K and Q5_K share all but the width of q: fills d, dmin, scales and the 0..qmax values.
void quantize_kquant_scales(const float* x, int qmax, uint16_t& d_out, uint16_t& dmin_out, uint8_t scales[12],
                            uint8_t q[kQK_K]) {
  float s[8], m[8];
  float max_s = 0.0f, max_m = 0.0f;
  for (int j = 0; j < 8; ++j) {
    const ScaleMin f = fit_scale_min(x + 32 * j, 32, qmax);
    s[j] = f.scale;
    m[j] = f.min;
    max_s = std::max(max_s, s[j]);
    max_m = std::max(max_m, m[j]);
  }
  // 6-bit sub-block scales against the fp16 super-block scales actually stored.
  d_out = fp32_to_fp16(max_s / 63.0f);
  dmin_out = fp32_to_fp16(max_m / 63.0f);
  const float d = fp16_to_fp32(d_out), dmin = fp16_to_fp32(dmin_out);
  uint8_t sc[8], mc[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(d > 0.0f ? nearest_int_clamped(s[j] / d, 0, 63) : 0);
    mc[j] = static_cast<uint8_t>(dmin > 0.0f ? nearest_int_clamped(m[j] / dmin, 0, 63) : 0);
  }
  pack_q4k_scales(sc, mc, scales);
  // Round each value against the scale and min it will be decoded with.
  for (int j = 0; j < 8; ++j) {
    const float scale = d * static_cast<float>(sc[j]);
    const float min = dmin * static_cast<float>(mc[j]);
    const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
    for (int l = 0; l < 32; ++l) {
      const int e = 32 * j + l;
      q[e] = static_cast<uint8_t>(nearest_int_clamped((x[e] + min) * inv, 0, qmax));
    }
  }
}

// ---- Q4_K ----

void q4_k_to_float(const void* src, float* dst, int64_t n) {
  assert(n % kQK_K == 0);
  const auto* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], m[8];
    unpack_q4k_scales(b[i].scales, sc, m);
    const float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    for (int e = 0; e < kQK_K; ++e) {
      const int j = e / 32;
      dst[i * kQK_K + e] = d * static_cast<float>(sc[j]) * static_cast<float>(low_nibble_k(b[i].qs, e)) -
                           dmin * static_cast<float>(m[j]);
    }
  }
}

void q4_k_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK_K == 0);
  auto* b = static_cast<BlockQ4_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t q[kQK_K];
    quantize_kquant_scales(src + i * kQK_K, 15, b[i].d, b[i].dmin, b[i].scales, q);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        b[i].qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
  }
}

// Per super-block: d_w d_x sum_j sc[j] (sum_l q * qx)  -  dmin_w d_x sum_j m[j] (sum of qx over j),
// the last sum from bsums (sub-block j of 32 covers bsums[2j] and bsums[2j + 1]).
float q4_k_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK_K == 0);
  const auto* a = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], m[8];
    unpack_q4k_scales(a[i].scales, sc, m);
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      int s = 0;
      for (int l = 0; l < 32; ++l) s += low_nibble_k(a[i].qs, 32 * j + l) * y[i].qs[32 * j + l];
      sumi += sc[j] * s;
      summ += m[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    sum += fp16_to_fp32(a[i].d) * y[i].d * static_cast<float>(sumi) -
           fp16_to_fp32(a[i].dmin) * y[i].d * static_cast<float>(summ);
  }
  return sum;
}

// ---- Q5_K ----

void q5_k_to_float(const void* src, float* dst, int64_t n) {
  assert(n % kQK_K == 0);
  const auto* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], m[8];
    unpack_q4k_scales(b[i].scales, sc, m);
    const float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    for (int e = 0; e < kQK_K; ++e) {
      const int j = e / 32;
      const int q = low_nibble_k(b[i].qs, e) | (high_bit_q5k(b[i].qh, e) << 4);
      dst[i * kQK_K + e] = d * static_cast<float>(sc[j]) * static_cast<float>(q) - dmin * static_cast<float>(m[j]);
    }
  }
}

void q5_k_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK_K == 0);
  auto* b = static_cast<BlockQ5_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t q[kQK_K];
    quantize_kquant_scales(src + i * kQK_K, 31, b[i].d, b[i].dmin, b[i].scales, q);
    for (int l = 0; l < 32; ++l) b[i].qh[l] = 0;
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        const int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
        b[i].qs[32 * c + l] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
        b[i].qh[l] = static_cast<uint8_t>(b[i].qh[l] | ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
  }
}

float q5_k_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK_K == 0);
  const auto* a = static_cast<const BlockQ5_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], m[8];
    unpack_q4k_scales(a[i].scales, sc, m);
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      int s = 0;
      for (int l = 0; l < 32; ++l) {
        const int e = 32 * j + l;
        s += (low_nibble_k(a[i].qs, e) | (high_bit_q5k(a[i].qh, e) << 4)) * y[i].qs[e];
      }
      sumi += sc[j] * s;
      summ += m[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    sum += fp16_to_fp32(a[i].d) * y[i].d * static_cast<float>(sumi) -
           fp16_to_fp32(a[i].dmin) * y[i].d * static_cast<float>(summ);
  }
  return sum;
}

// ---- Q6_K ----

void q6_k_to_float(const void* src, float* dst, int64_t n) {
  assert(n % kQK_K == 0);
  const auto* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    for (int e = 0; e < kQK_K; ++e)
      dst[i * kQK_K + e] = d * static_cast<float>(b[i].scales[e / 16]) * static_cast<float>(q6k_value(b[i], e) - 32);
  }
}

void q6_k_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK_K == 0);
  auto* b = static_cast<BlockQ6_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* x = src + i * kQK_K;
    float s[16];
    float smax = 0.0f;  // the sub-block scale of largest magnitude, with its sign
    for (int k = 0; k < 16; ++k) {
      s[k] = fit_scale_symmetric(x + 16 * k, 16);
      if (std::fabs(s[k]) > std::fabs(smax)) smax = s[k];
    }
    // int8 sub-block scales: the largest maps to -128, the others in [-128, 127].
    b[i].d = fp32_to_fp16(smax / -128.0f);
    const float d = fp16_to_fp32(b[i].d);
    uint8_t q[kQK_K];
    for (int k = 0; k < 16; ++k) {
      b[i].scales[k] = static_cast<int8_t>(d != 0.0f ? nearest_int_clamped(s[k] / d, -128, 127) : 0);
      const float scale = d * static_cast<float>(b[i].scales[k]);
      const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
      for (int l = 0; l < 16; ++l) {
        const int e = 16 * k + l;
        q[e] = static_cast<uint8_t>(nearest_int_clamped(x[e] * inv, -32, 31) + 32);
      }
    }
    // Pack (see q6k_value): per half, elements l, 32+l, 64+l, 96+l share ql[l], ql[32+l], qh[l].
    for (int half = 0; half < 2; ++half) {
      uint8_t* ql = b[i].ql + 64 * half;
      uint8_t* qh = b[i].qh + 32 * half;
      const uint8_t* v = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((v[l] & 0x0F) | ((v[64 + l] & 0x0F) << 4));
        ql[32 + l] = static_cast<uint8_t>((v[32 + l] & 0x0F) | ((v[96 + l] & 0x0F) << 4));
        qh[l] = static_cast<uint8_t>((v[l] >> 4) | ((v[32 + l] >> 4) << 2) | ((v[64 + l] >> 4) << 4) |
                                     ((v[96 + l] >> 4) << 6));
      }
    }
  }
}

// d_w d_x sum_k scales[k] sum_l (q - 32) * qx over the 16 sub-blocks.
float q6_k_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK_K == 0);
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sumi = 0;
    for (int k = 0; k < 16; ++k) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += (q6k_value(a[i], 16 * k + l) - 32) * y[i].qs[16 * k + l];
      sumi += a[i].scales[k] * s;
    }
    sum += fp16_to_fp32(a[i].d) * y[i].d * static_cast<float>(sumi);
  }
  return sum;
}

// ---- Q8_K ----

void q8_k_to_float(const void* src, float* dst, int64_t n) {
  assert(n % kQK_K == 0);
  const auto* b = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    for (int e = 0; e < kQK_K; ++e) dst[i * kQK_K + e] = b[i].d * static_cast<float>(b[i].qs[e]);
}

// ggml's rule: max = the signed largest-magnitude value (first of ties), iscale = -127 / max,
// q = min(127, nearest_even(iscale * x)), d = 1 / iscale; all-zero input gives d = 0, q = 0.
void q8_k_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK_K == 0);
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* x = src + i * kQK_K;
    float amax = 0.0f, max = 0.0f;
    for (int e = 0; e < kQK_K; ++e)
      if (std::fabs(x[e]) > amax) {
        amax = std::fabs(x[e]);
        max = x[e];
      }
    if (amax == 0.0f) {
      b[i] = BlockQ8_K{};
      continue;
    }
    const float iscale = -127.0f / max;
    for (int e = 0; e < kQK_K; ++e) b[i].qs[e] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[e])));
    for (int k = 0; k < 16; ++k) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += b[i].qs[16 * k + l];
      b[i].bsums[k] = static_cast<int16_t>(s);
    }
    b[i].d = 1.0f / iscale;
  }
}

}  // namespace

void add_reference_kquants(KernelTable& t) {
  slot(t, TensorType::Q4_K) = {q4_k_to_float, q4_k_from_float, q4_k_vec_dot};
  slot(t, TensorType::Q5_K) = {q5_k_to_float, q5_k_from_float, q5_k_vec_dot};
  slot(t, TensorType::Q6_K) = {q6_k_to_float, q6_k_from_float, q6_k_vec_dot};
  slot(t, TensorType::Q8_K) = {q8_k_to_float, q8_k_from_float, nullptr};
}

}  // namespace strata::cpu::detail
