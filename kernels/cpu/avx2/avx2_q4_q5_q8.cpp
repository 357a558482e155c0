// AVX2 kernels of the 32-element block types: dot products of Q4_0 / Q5_0 / Q8_0 with Q8_0 and
// Q4_1 / Q5_1 with Q8_1, and the Q8_0 / Q8_1 activation quantizers (bit-exact with the
// reference). One block is one 256-bit vector of 32 bytes; the integer sums are exact, each
// block's sum is scaled in float as in the reference.
#include <cassert>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"

namespace strata::cpu::detail {
namespace {

inline __m256i load_i8x32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Sum over blocks of d_w * d_x * dot(q_w, q_x), for weight blocks whose signed 8-bit values
// `weights(i)` builds. Two blocks per step with two accumulators.
template <typename WBlock, typename Weights>
float dot_with_q8_0(int64_t n, const WBlock* a, const BlockQ8_0* y, Weights weights) {
  const int64_t nb = n / 32;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const __m256i p0 = dot_i8(weights(a[i]), load_i8x32(y[i].qs));
    const __m256i p1 = dot_i8(weights(a[i + 1]), load_i8x32(y[i + 1].qs));
    const __m256 d0 = _mm256_set1_ps(half_to_float(a[i].d) * half_to_float(y[i].d));
    const __m256 d1 = _mm256_set1_ps(half_to_float(a[i + 1].d) * half_to_float(y[i + 1].d));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), d0, acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), d1, acc1);
  }
  for (; i < nb; ++i) {
    const __m256i p = dot_i8(weights(a[i]), load_i8x32(y[i].qs));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(a[i].d) * half_to_float(y[i].d)), acc0);
  }
  return hsum_ps(_mm256_add_ps(acc0, acc1));
}

// The same for unsigned weights `weights(i)` (0..31) against Q8_1: adds m_w * s_x per block.
template <typename WBlock, typename Weights>
float dot_with_q8_1(int64_t n, const WBlock* a, const BlockQ8_1* y, Weights weights) {
  const int64_t nb = n / 32;
  __m256 acc = _mm256_setzero_ps();
  float summ = 0.0f;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(weights(a[i]), load_i8x32(y[i].qs)), ones);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(a[i].d) * half_to_float(y[i].d)), acc);
    summ += half_to_float(a[i].m) * half_to_float(y[i].s);
  }
  return hsum_ps(acc) + summ;
}

float q4_0_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK4_0 == 0);
  const __m256i eight = _mm256_set1_epi8(8);
  return dot_with_q8_0(n, static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(x),
                       [&](const BlockQ4_0& b) { return _mm256_sub_epi8(unpack_nibbles_32(b.qs), eight); });
}

float q5_0_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK5_0 == 0);
  // q - 16 as a signed byte: the nibble when bit 4 is set, else the nibble with 0xF0 or-ed in.
  const __m256i high = _mm256_set1_epi8(static_cast<char>(0xF0));
  return dot_with_q8_0(n, static_cast<const BlockQ5_0*>(w), static_cast<const BlockQ8_0*>(x),
                       [&](const BlockQ5_0& b) {
                         return _mm256_or_si256(unpack_nibbles_32(b.qs), _mm256_andnot_si256(bits_to_bytes(b.qh), high));
                       });
}

float q8_0_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK8_0 == 0);
  return dot_with_q8_0(n, static_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(x),
                       [](const BlockQ8_0& b) { return load_i8x32(b.qs); });
}

float q4_1_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK4_1 == 0);
  return dot_with_q8_1(n, static_cast<const BlockQ4_1*>(w), static_cast<const BlockQ8_1*>(x),
                       [](const BlockQ4_1& b) { return unpack_nibbles_32(b.qs); });
}

float q5_1_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK5_1 == 0);
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  return dot_with_q8_1(n, static_cast<const BlockQ5_1*>(w), static_cast<const BlockQ8_1*>(x),
                       [&](const BlockQ5_1& b) {
                         return _mm256_or_si256(unpack_nibbles_32(b.qs), _mm256_and_si256(bits_to_bytes(b.qh), bit4));
                       });
}

// One 32-float block to 32 int8 with ggml's Q8_0 rule (see the reference); returns d and the
// sum of the quantized values.
inline float quantize_block_q8(const float* x, int8_t* qs, int* sum) {
  const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
  const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
  const __m256 m = _mm256_max_ps(_mm256_max_ps(abs_ps(v0), abs_ps(v1)), _mm256_max_ps(abs_ps(v2), abs_ps(v3)));
  const float amax = hmax_ps(m);
  const float d = amax / 127.0f;
  const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  const __m256i i0 = _mm256_cvttps_epi32(round_away_ps(_mm256_mul_ps(v0, id)));
  const __m256i i1 = _mm256_cvttps_epi32(round_away_ps(_mm256_mul_ps(v1, id)));
  const __m256i i2 = _mm256_cvttps_epi32(round_away_ps(_mm256_mul_ps(v2, id)));
  const __m256i i3 = _mm256_cvttps_epi32(round_away_ps(_mm256_mul_ps(v3, id)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), pack_epi32_to_epi8(i0, i1, i2, i3));
  if (sum != nullptr) *sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
  return d;
}

void q8_0_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK8_0 == 0);
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK8_0; ++i) b[i].d = fp32_to_fp16(quantize_block_q8(src + i * kQK8_0, b[i].qs, nullptr));
}

void q8_1_from_float(const float* src, void* dst, int64_t n) {
  assert(n % kQK8_1 == 0);
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    int sum = 0;
    const float d = quantize_block_q8(src + i * kQK8_1, b[i].qs, &sum);
    b[i].d = fp32_to_fp16(d);
    b[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

}  // namespace

void add_avx2_q4_q5_q8(KernelTable& t) {
  slot(t, TensorType::Q4_0).vec_dot = q4_0_vec_dot;
  slot(t, TensorType::Q4_1).vec_dot = q4_1_vec_dot;
  slot(t, TensorType::Q5_0).vec_dot = q5_0_vec_dot;
  slot(t, TensorType::Q5_1).vec_dot = q5_1_vec_dot;
  slot(t, TensorType::Q8_0).vec_dot = q8_0_vec_dot;
  slot(t, TensorType::Q8_0).from_float = q8_0_from_float;
  slot(t, TensorType::Q8_1).from_float = q8_1_from_float;
}

}  // namespace strata::cpu::detail
