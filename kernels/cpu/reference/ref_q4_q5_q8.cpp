// Reference kernels of the 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (weights) and
// Q8_1 (activations for Q4_1 / Q5_1). Layouts: quant_blocks.h.
//
// In every type, element j of a block (j in 0..31) sits in nibble-pair position j % 16: the low
// nibble of qs[j] for j < 16, the high nibble of qs[j - 16] otherwise. Q5 types keep the fifth
// bit of element j in bit j of the 32-bit qh.
//
// The quantizers follow ggml's reference rules exactly (same scale, same rounding), so models we
// write hold the blocks llama-quantize's reference path would write.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/reference/rounding.h"

namespace strata::cpu::detail {
namespace {

// The 4-bit value of element j (0..31) of a block's qs.
inline int nibble(const uint8_t* qs, int j) { return j < 16 ? (qs[j] & 0x0F) : (qs[j - 16] >> 4); }

inline uint32_t load_qh(const uint8_t qh[4]) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;  // little-endian host (x86-64 and aarch64)
}

// The signed value of largest magnitude (the first one when two tie), as ggml picks it.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j)
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

// ---- Q4_0: x = d * (q - 8) ----

void q4_0_to_float(const void* src, float* dst, int64_t n) {
  assert(n % kQK4_0 == 0);
  const auto* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < kQK4_0; ++j) dst[i * kQK4_0 + j] = d * static_cast<float>(nibble(b[i].qs, j) - 8);
  }
}

// d = max / -8 where max is the signed largest-magnitude value, so it maps to q = 0 (-8) and the
// asymmetric range [-8, 7] is used in full; q = trunc(x / d + 8.5), clamped to 15.
void q4_0_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK4_0 == 0);
  auto* b = static_cast<BlockQ4_0*>(dst);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float* x = src + i * kQK4_0;
    const float d = signed_absmax(x, kQK4_0) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int q1 = std::min(15, static_cast<int>(x[j + 16] * id + 8.5f));
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

float q4_0_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK4_0 == 0);
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK4_0; ++j) sumi += (nibble(a[i].qs, j) - 8) * y[i].qs[j];
    sum += static_cast<float>(sumi) * fp16_to_fp32(a[i].d) * fp16_to_fp32(y[i].d);
  }
  return sum;
}

// ---- Q4_1: x = d * q + m ----

void q4_1_to_float(const void* src, float* dst, int64_t n) {
  assert(n % kQK4_1 == 0);
  const auto* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    const float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
    for (int j = 0; j < kQK4_1; ++j) dst[i * kQK4_1 + j] = d * static_cast<float>(nibble(b[i].qs, j)) + m;
  }
}

// m = min, d = (max - min) / 15; q = trunc((x - min) / d + 0.5), clamped to 15.
void q4_1_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK4_1 == 0);
  auto* b = static_cast<BlockQ4_1*>(dst);
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    const float* x = src + i * kQK4_1;
    const float min = *std::min_element(x, x + kQK4_1);
    const float max = *std::max_element(x, x + kQK4_1);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32_to_fp16(d);
    b[i].m = fp32_to_fp16(min);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>((x[j] - min) * id + 0.5f));
      const int q1 = std::min(15, static_cast<int>((x[j + 16] - min) * id + 0.5f));
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// sum (d_w q_w + m_w) * d_x q_x = d_w d_x sum(q_w q_x) + m_w * s_x, with s_x = d_x sum(q_x).
float q4_1_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK4_1 == 0);
  const auto* a = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK4_1; ++j) sumi += nibble(a[i].qs, j) * y[i].qs[j];
    sum += fp16_to_fp32(a[i].d) * fp16_to_fp32(y[i].d) * static_cast<float>(sumi) +
           fp16_to_fp32(a[i].m) * fp16_to_fp32(y[i].s);
  }
  return sum;
}

// ---- Q5_0: x = d * (q - 16) ----

inline int q5_value(const uint8_t* qs, uint32_t qh, int j) {
  return nibble(qs, j) | static_cast<int>(((qh >> j) & 1u) << 4);
}

void q5_0_to_float(const void* src, float* dst, int64_t n) {
  assert(n % kQK5_0 == 0);
  const auto* b = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    const uint32_t qh = load_qh(b[i].qh);
    for (int j = 0; j < kQK5_0; ++j) dst[i * kQK5_0 + j] = d * static_cast<float>(q5_value(b[i].qs, qh, j) - 16);
  }
}

// d = max / -16 (signed largest-magnitude value), q = trunc(x / d + 16.5) clamped to 31.
void q5_0_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK5_0 == 0);
  auto* b = static_cast<BlockQ5_0*>(dst);
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const float* x = src + i * kQK5_0;
    const float d = signed_absmax(x, kQK5_0) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int q0 = std::min(31, static_cast<int>(x[j] * id + 16.5f));
      const int q1 = std::min(31, static_cast<int>(x[j + 16] * id + 16.5f));
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    std::memcpy(b[i].qh, &qh, 4);
  }
}

float q5_0_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK5_0 == 0);
  const auto* a = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const uint32_t qh = load_qh(a[i].qh);
    int sumi = 0;
    for (int j = 0; j < kQK5_0; ++j) sumi += (q5_value(a[i].qs, qh, j) - 16) * y[i].qs[j];
    sum += static_cast<float>(sumi) * fp16_to_fp32(a[i].d) * fp16_to_fp32(y[i].d);
  }
  return sum;
}

// ---- Q5_1: x = d * q + m ----

void q5_1_to_float(const void* src, float* dst, int64_t n) {
  assert(n % kQK5_1 == 0);
  const auto* b = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    const float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
    const uint32_t qh = load_qh(b[i].qh);
    for (int j = 0; j < kQK5_1; ++j) dst[i * kQK5_1 + j] = d * static_cast<float>(q5_value(b[i].qs, qh, j)) + m;
  }
}

// m = min, d = (max - min) / 31, q = trunc((x - min) / d + 0.5) clamped to 31.
void q5_1_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK5_1 == 0);
  auto* b = static_cast<BlockQ5_1*>(dst);
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    const float* x = src + i * kQK5_1;
    const float min = *std::min_element(x, x + kQK5_1);
    const float max = *std::max_element(x, x + kQK5_1);
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32_to_fp16(d);
    b[i].m = fp32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int q0 = std::min(31, static_cast<int>((x[j] - min) * id + 0.5f));
      const int q1 = std::min(31, static_cast<int>((x[j + 16] - min) * id + 0.5f));
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    std::memcpy(b[i].qh, &qh, 4);
  }
}

float q5_1_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK5_1 == 0);
  const auto* a = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    const uint32_t qh = load_qh(a[i].qh);
    int sumi = 0;
    for (int j = 0; j < kQK5_1; ++j) sumi += q5_value(a[i].qs, qh, j) * y[i].qs[j];
    sum += fp16_to_fp32(a[i].d) * fp16_to_fp32(y[i].d) * static_cast<float>(sumi) +
           fp16_to_fp32(a[i].m) * fp16_to_fp32(y[i].s);
  }
  return sum;
}

// ---- Q8_0: x = d * q ----

void q8_0_to_float(const void* src, float* dst, int64_t n) {
  assert(n % kQK8_0 == 0);
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < kQK8_0; ++j) dst[i * kQK8_0 + j] = d * static_cast<float>(b[i].qs[j]);
  }
}

// d = amax / 127, q = roundf(x * (1 / d)) (ties away from zero). The 1/d uses the float d, not
// its fp16 rounding, as ggml does. Also the activation quantizer for Q4_0 / Q5_0 / Q8_0 weights.
void q8_0_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK8_0 == 0);
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float* x = src + i * kQK8_0;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK8_0; ++j) b[i].qs[j] = static_cast<int8_t>(round_away(x[j] * id));
  }
}

float q8_0_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK8_0 == 0);
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += a[i].qs[j] * y[i].qs[j];
    sum += static_cast<float>(sumi) * fp16_to_fp32(a[i].d) * fp16_to_fp32(y[i].d);
  }
  return sum;
}

// ---- Q8_1: x = d * q, s = d * sum(q) ----

void q8_1_to_float(const void* src, float* dst, int64_t n) {
  assert(n % kQK8_1 == 0);
  const auto* b = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < kQK8_1; ++j) dst[i * kQK8_1 + j] = d * static_cast<float>(b[i].qs[j]);
  }
}

// As Q8_0, plus s = fp16(sum(q) * d) with the float d.
void q8_1_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK8_1 == 0);
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    const float* x = src + i * kQK8_1;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_1; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK8_1; ++j) {
      b[i].qs[j] = static_cast<int8_t>(round_away(x[j] * id));
      sum += b[i].qs[j];
    }
    b[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

}  // namespace

void add_reference_q4_q5_q8(KernelTable& t) {
  slot(t, TensorType::Q4_0) = {q4_0_to_float, q4_0_from_float, q4_0_vec_dot};
  slot(t, TensorType::Q4_1) = {q4_1_to_float, q4_1_from_float, q4_1_vec_dot};
  slot(t, TensorType::Q5_0) = {q5_0_to_float, q5_0_from_float, q5_0_vec_dot};
  slot(t, TensorType::Q5_1) = {q5_1_to_float, q5_1_from_float, q5_1_vec_dot};
  slot(t, TensorType::Q8_0) = {q8_0_to_float, q8_0_from_float, q8_0_vec_dot};
  slot(t, TensorType::Q8_1) = {q8_1_to_float, q8_1_from_float, nullptr};
}

}  // namespace strata::cpu::detail
