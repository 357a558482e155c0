// AVX2 multi-row dot products (vec_dot_rows) of F32, F16 and BF16 weights, for decode on CPUs
// without AVX-512: the loop of rows_float_impl.h with 256-bit steps. F16 and BF16 activations are
// widened to floats once per call; the weights are widened 8 at a time (vcvtph2ps, or a shift
// for bf16) and multiplied in float.
#include <immintrin.h>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/avx2/rows_float_impl.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"

namespace strata::cpu::detail {
namespace {

// The parts of a Step (rows_float_impl.h) every 256-bit float step shares.
struct Ymm8 {
  using V = __m256;
  using X = float;
  static constexpr int kElems = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static float sum(V v) { return hsum_ps(v); }
  static float scalar_x(float v) { return v; }
};

inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m256 widen_f16(const uint16_t* p) { return _mm256_cvtph_ps(load128(p)); }
inline __m256 widen_bf16(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
}

struct F32Step : Ymm8 {
  using W = float;
  static V dot(V acc, const float* w, const float* x) {
    return _mm256_fmadd_ps(_mm256_loadu_ps(w), _mm256_loadu_ps(x), acc);
  }
  static float scalar_w(float v) { return v; }
};

// F16 or BF16 weights against the widened activation: `kWiden` widens 8 weights, `kScalar` one.
template <__m256 (*kWiden)(const uint16_t*), float (*kScalar)(uint16_t)>
struct HalfStep : Ymm8 {
  using W = uint16_t;
  static V dot(V acc, const uint16_t* w, const float* x) { return _mm256_fmadd_ps(kWiden(w), _mm256_loadu_ps(x), acc); }
  static float scalar_w(uint16_t v) { return kScalar(v); }
};

void f32_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  float_rows<F32Step>(n, w, stride, static_cast<const float*>(x), out, rows);
}

void f32_streams(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4], int64_t steps) {
  float_streams<F32Step>(n, row_streams(w, stride, out, steps), static_cast<const float*>(x));
}

template <__m256 (*kWiden)(const uint16_t*), float (*kScalar)(uint16_t)>
void half_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  const float* xf = widened_activation<8>(
      n, x, [](float* dst, const uint16_t* src) { _mm256_storeu_ps(dst, kWiden(src)); }, kScalar);
  float_rows<HalfStep<kWiden, kScalar>>(n, w, stride, xf, out, rows);
}

template <__m256 (*kWiden)(const uint16_t*), float (*kScalar)(uint16_t)>
void half_streams(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4],
                  int64_t steps) {
  const float* xf = widened_activation<8>(
      n, x, [](float* dst, const uint16_t* src) { _mm256_storeu_ps(dst, kWiden(src)); }, kScalar);
  float_streams<HalfStep<kWiden, kScalar>>(n, row_streams(w, stride, out, steps), xf);
}

}  // namespace

void add_avx2_rows_float(KernelTable& t) {
  slot(t, TensorType::F32).vec_dot_rows = f32_rows;
  slot(t, TensorType::F16).vec_dot_rows = half_rows<widen_f16, fp16_to_fp32>;
  slot(t, TensorType::BF16).vec_dot_rows = half_rows<widen_bf16, bf16_to_fp32>;
  slot(t, TensorType::F32).vec_dot_streams = f32_streams;
  slot(t, TensorType::F16).vec_dot_streams = half_streams<widen_f16, fp16_to_fp32>;
  slot(t, TensorType::BF16).vec_dot_streams = half_streams<widen_bf16, bf16_to_fp32>;
}

}  // namespace strata::cpu::detail
