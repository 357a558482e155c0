// AVX2 + FMA + F16C kernels of F32, F16 and BF16. Float accumulation in 4 independent vector
// sums; the reference accumulates in double, so results agree to float rounding.
#include <cassert>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"

namespace strata::cpu::detail {
namespace {

// 8 bfloat16 at p as 8 floats (a bfloat16 is the top half of a float).
inline __m256 load_bf16x8(const uint16_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256 load_f32x8(const float* p) { return _mm256_loadu_ps(p); }

// Dot product over elements loaded 8 at a time by `load`, and one by one by `scalar`.
template <typename T, typename Load, typename Scalar>
float dot(int64_t n, const T* a, const T* b, Load load, Scalar scalar) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(load(a + i), load(b + i), acc0);
    acc1 = _mm256_fmadd_ps(load(a + i + 8), load(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(load(a + i + 16), load(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(load(a + i + 24), load(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load(a + i), load(b + i), acc0);
  float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += scalar(a[i]) * scalar(b[i]);
  return sum;
}

float f32_vec_dot(int64_t n, const void* w, const void* x) {
  return dot(n, static_cast<const float*>(w), static_cast<const float*>(x), load_f32x8, [](float v) { return v; });
}

float f16_vec_dot(int64_t n, const void* w, const void* x) {
  return dot(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(x), load_f16x8, half_to_float);
}

float bf16_vec_dot(int64_t n, const void* w, const void* x) {
  return dot(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(x), load_bf16x8, bf16_to_fp32);
}

void f16_to_float(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16x8(h + i));
  for (; i < n; ++i) dst[i] = half_to_float(h[i]);
}

// vcvtps2ph rounds to nearest even, makes subnormals and quiets NaN as fp32_to_fp16 does.
void f16_from_float(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
}

void bf16_to_float(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16x8(h + i));
  for (; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
}

// fp32_to_bf16 on 8 lanes: round to nearest even on the low 16 bits, NaN kept quiet.
void bf16_from_float(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7FFF);
  const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
  const __m256i quiet = _mm256_set1_epi32(0x40);
  for (; i + 8 <= n; i += 8) {
    const __m256i x = _mm256_castps_si256(_mm256_loadu_ps(src + i));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), one);
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(bias, lsb)), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, abs_mask), inf);
    const __m256i nan_bits = _mm256_or_si256(_mm256_srli_epi32(x, 16), quiet);
    const __m256i r = _mm256_blendv_epi8(rounded, nan_bits, nan);
    // Every lane is <= 0xFFFF, so the unsigned saturating pack is exact; fix the lane order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), _MM_SHUFFLE(3, 1, 2, 0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i), _mm256_castsi256_si128(packed));
  }
  for (; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
}

}  // namespace

void add_avx2_float(KernelTable& t) {
  slot(t, TensorType::F32).vec_dot = f32_vec_dot;
  slot(t, TensorType::F16) = {f16_to_float, f16_from_float, f16_vec_dot};
  slot(t, TensorType::BF16) = {bf16_to_float, bf16_from_float, bf16_vec_dot};
}

}  // namespace strata::cpu::detail
