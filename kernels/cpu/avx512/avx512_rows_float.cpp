// AVX-512 multi-row dot products (vec_dot_rows) of F32, F16 and BF16 weights: the decode
// matrix-vector product of float models, four rows at a time (avx2/rows_float_impl.h).
//
// F16 and BF16 activations (vec_dot_type: the activation is rounded to the weight's type first,
// as llama.cpp does) are widened to floats once per call for all its rows; the weights are
// widened 16 at a time (vcvtph2ps; a bf16 is the top half of a float) and multiplied in float.
// With AVX512_BF16, BF16 weights and activations go straight into vdpbf16ps instead, 32 pairs
// an instruction, as the single-row BF16 kernel does (avx512_float.cpp).
#include <immintrin.h>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/avx2/rows_float_impl.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"

namespace strata::cpu::detail {
namespace {

// The parts of a Step (rows_float_impl.h) every 512-bit float step shares.
struct Zmm {
  using V = __m512;
  static V zero() { return _mm512_setzero_ps(); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // The halves added through memory, then AVX2's sum: once per row, and GCC 12 draws a false
  // "may be used uninitialized" from its 512-bit extracts (_mm512_reduce_add_ps) here.
  static float sum(V v) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, v);
    return hsum_ps(_mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8)));
  }
  static float scalar_x(float v) { return v; }
};

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// The maskz forms with every lane set are the plain instructions; GCC 12's plain intrinsics start
// from an "undefined" vector and draw false -Wmaybe-uninitialized warnings once inlined here.
constexpr __mmask16 kAll = 0xFFFF;
inline __m512 widen_f16(const uint16_t* p) { return _mm512_maskz_cvtph_ps(kAll, load256(p)); }
inline __m512 widen_bf16(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(kAll, _mm512_maskz_cvtepu16_epi32(kAll, load256(p)), 16));
}

struct F32Step : Zmm {
  using W = float;
  using X = float;
  static constexpr int kElems = 16;
  static V dot(V acc, const float* w, const float* x) {
    return _mm512_fmadd_ps(_mm512_loadu_ps(w), _mm512_loadu_ps(x), acc);
  }
  static float scalar_w(float v) { return v; }
};

// F16 or BF16 weights against the widened activation: `kWiden` widens 16 weights, `kScalar` one.
template <__m512 (*kWiden)(const uint16_t*), float (*kScalar)(uint16_t)>
struct HalfStep : Zmm {
  using W = uint16_t;
  using X = float;
  static constexpr int kElems = 16;
  static V dot(V acc, const uint16_t* w, const float* x) { return _mm512_fmadd_ps(kWiden(w), _mm512_loadu_ps(x), acc); }
  static float scalar_w(uint16_t v) { return kScalar(v); }
};

// vdpbf16ps: pairs of bf16 products (exact in float) added to each float lane, rounding to
// nearest even with denormals flushed, as bf16_vec_dot.
struct BF16DotStep : Zmm {
  using W = uint16_t;
  using X = uint16_t;
  static constexpr int kElems = 32;
  static V dot(V acc, const uint16_t* w, const uint16_t* x) {
    return _mm512_dpbf16_ps(acc, (__m512bh)_mm512_loadu_si512(w), (__m512bh)_mm512_loadu_si512(x));
  }
  static float scalar_w(uint16_t v) { return bf16_to_fp32(v); }
  static float scalar_x(uint16_t v) { return bf16_to_fp32(v); }
};

void f32_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  float_rows<F32Step>(n, w, stride, static_cast<const float*>(x), out, rows);
}

void f32_streams(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4], int64_t steps) {
  float_streams<F32Step>(n, row_streams(w, stride, out, steps), static_cast<const float*>(x));
}

template <__m512 (*kWiden)(const uint16_t*), float (*kScalar)(uint16_t)>
void half_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  const float* xf = widened_activation<16>(
      n, x, [](float* dst, const uint16_t* src) { _mm512_storeu_ps(dst, kWiden(src)); }, kScalar);
  float_rows<HalfStep<kWiden, kScalar>>(n, w, stride, xf, out, rows);
}

template <__m512 (*kWiden)(const uint16_t*), float (*kScalar)(uint16_t)>
void half_streams(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4],
                  int64_t steps) {
  const float* xf = widened_activation<16>(
      n, x, [](float* dst, const uint16_t* src) { _mm512_storeu_ps(dst, kWiden(src)); }, kScalar);
  float_streams<HalfStep<kWiden, kScalar>>(n, row_streams(w, stride, out, steps), xf);
}

void bf16_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  float_rows<BF16DotStep>(n, w, stride, static_cast<const uint16_t*>(x), out, rows);
}

void bf16_dot_streams(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4],
                      int64_t steps) {
  float_streams<BF16DotStep>(n, row_streams(w, stride, out, steps), static_cast<const uint16_t*>(x));
}

}  // namespace

void add_avx512_rows_float(KernelTable& t, bool bf16) {
  slot(t, TensorType::F32).vec_dot_rows = f32_rows;
  slot(t, TensorType::F16).vec_dot_rows = half_rows<widen_f16, fp16_to_fp32>;
  slot(t, TensorType::BF16).vec_dot_rows = bf16 ? bf16_dot_rows : half_rows<widen_bf16, bf16_to_fp32>;
  slot(t, TensorType::F32).vec_dot_streams = f32_streams;
  slot(t, TensorType::F16).vec_dot_streams = half_streams<widen_f16, fp16_to_fp32>;
  slot(t, TensorType::BF16).vec_dot_streams = bf16 ? bf16_dot_streams : half_streams<widen_bf16, bf16_to_fp32>;
}

}  // namespace strata::cpu::detail
