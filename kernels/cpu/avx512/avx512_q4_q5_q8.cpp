// AVX-512 VNNI dot products of the 32-element block types: Q4_0 / Q5_0 / Q8_0 with Q8_0 and
// Q4_1 / Q5_1 with Q8_1.
//
// One block is one 256-bit vector; vpdpbusd (AVX512_VNNI + VL) multiplies unsigned by signed bytes
// and adds groups of four straight into int32 lanes, replacing AVX2's vpmaddubsw + vpmaddwd pair
// without its int16 saturation. Signed weights use the sign trick: |w| times y with w's sign.
// (Two blocks per 512-bit vector measured slower: joining two strided blocks and their scales
// costs more shuffles than the wider multiply saves, and 512-bit ops have fewer ports.)
#include <cassert>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"

namespace strata::cpu::detail {
namespace {

inline __m256i load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// sum of products of signed bytes x, y per group of four, into int32 lanes; exact unless y holds
// -128 where x < 0 (the activation quantizers never write -128).
inline __m256i dot_i8_vnni(__m256i x, __m256i y) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

// Decode streams every weight row once from memory, row after row; the hardware prefetcher
// restarts at each 4 KiB page, so ask for the bytes ~1 KiB ahead (past the row's end: the next
// row) explicitly.
inline void prefetch_ahead(const void* p) { _mm_prefetch(static_cast<const char*>(p) + 1024, _MM_HINT_T0); }

// Sum over blocks of d_w * d_x * dot(q_w, q_x) for weights whose signed values `weights(b)` gives.
template <typename WBlock, typename Weights>
float dot_with_q8_0(int64_t n, const WBlock* a, const BlockQ8_0* y, Weights weights) {
  const int64_t nb = n / 32;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    prefetch_ahead(a + i);
    const __m256i p0 = dot_i8_vnni(weights(a[i]), load256(y[i].qs));
    const __m256i p1 = dot_i8_vnni(weights(a[i + 1]), load256(y[i + 1].qs));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(half_to_float(a[i].d) * half_to_float(y[i].d)), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1),
                           _mm256_set1_ps(half_to_float(a[i + 1].d) * half_to_float(y[i + 1].d)), acc1);
  }
  if (i < nb) {
    const __m256i p = dot_i8_vnni(weights(a[i]), load256(y[i].qs));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(a[i].d) * half_to_float(y[i].d)), acc0);
  }
  return hsum_ps(_mm256_add_ps(acc0, acc1));
}

// The same for unsigned weights (0..31) against Q8_1, plus m_w * s_x per block.
template <typename WBlock, typename Weights>
float dot_with_q8_1(int64_t n, const WBlock* a, const BlockQ8_1* y, Weights weights) {
  const int64_t nb = n / 32;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  float summ = 0.0f;
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    prefetch_ahead(a + i);
    const __m256i p0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), weights(a[i]), load256(y[i].qs));
    const __m256i p1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), weights(a[i + 1]), load256(y[i + 1].qs));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(half_to_float(a[i].d) * half_to_float(y[i].d)), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1),
                           _mm256_set1_ps(half_to_float(a[i + 1].d) * half_to_float(y[i + 1].d)), acc1);
    summ += half_to_float(a[i].m) * half_to_float(y[i].s) + half_to_float(a[i + 1].m) * half_to_float(y[i + 1].s);
  }
  if (i < nb) {
    const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), weights(a[i]), load256(y[i].qs));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(a[i].d) * half_to_float(y[i].d)), acc0);
    summ += half_to_float(a[i].m) * half_to_float(y[i].s);
  }
  return hsum_ps(_mm256_add_ps(acc0, acc1)) + summ;
}

float q4_0_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK4_0 == 0);
  const __m256i eight = _mm256_set1_epi8(8);
  return dot_with_q8_0(n, static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(x),
                       [&](const BlockQ4_0& b) { return _mm256_sub_epi8(unpack_nibbles_32(b.qs), eight); });
}

float q5_0_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK5_0 == 0);
  // q - 16: the nibble where bit 4 (a bit of qh) is set, the nibble - 16 where it is not.
  const __m256i sixteen = _mm256_set1_epi8(16);
  return dot_with_q8_0(n, static_cast<const BlockQ5_0*>(w), static_cast<const BlockQ8_0*>(x),
                       [&](const BlockQ5_0& b) {
                         uint32_t qh;
                         std::memcpy(&qh, b.qh, 4);
                         const __m256i nib = unpack_nibbles_32(b.qs);
                         return _mm256_mask_sub_epi8(nib, _cvtu32_mask32(~qh), nib, sixteen);
                       });
}

float q8_0_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK8_0 == 0);
  return dot_with_q8_0(n, static_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(x),
                       [](const BlockQ8_0& b) { return load256(b.qs); });
}

float q4_1_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK4_1 == 0);
  return dot_with_q8_1(n, static_cast<const BlockQ4_1*>(w), static_cast<const BlockQ8_1*>(x),
                       [](const BlockQ4_1& b) { return unpack_nibbles_32(b.qs); });
}

float q5_1_vec_dot(int64_t n, const void* w, const void* x) {
  assert(n % kQK5_1 == 0);
  const __m256i sixteen = _mm256_set1_epi8(16);
  return dot_with_q8_1(n, static_cast<const BlockQ5_1*>(w), static_cast<const BlockQ8_1*>(x),
                       [&](const BlockQ5_1& b) {
                         uint32_t qh;
                         std::memcpy(&qh, b.qh, 4);
                         const __m256i nib = unpack_nibbles_32(b.qs);
                         return _mm256_mask_add_epi8(nib, _cvtu32_mask32(qh), nib, sixteen);
                       });
}

}  // namespace

void add_avx512_q4_q5_q8(KernelTable& t) {
  slot(t, TensorType::Q4_0).vec_dot = q4_0_vec_dot;
  slot(t, TensorType::Q4_1).vec_dot = q4_1_vec_dot;
  slot(t, TensorType::Q5_0).vec_dot = q5_0_vec_dot;
  slot(t, TensorType::Q5_1).vec_dot = q5_1_vec_dot;
  slot(t, TensorType::Q8_0).vec_dot = q8_0_vec_dot;
}

}  // namespace strata::cpu::detail
