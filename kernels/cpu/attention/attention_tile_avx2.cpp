// AVX2 attention tiles: the 16 rows are two registers, so 4 keys (or 4 output dimensions) per
// step keep the 8 accumulators and the operands within the 16 registers.
#include <immintrin.h>

#include "kernels/cpu/attention/attention_tile_impl.h"

namespace strata::cpu::detail {
namespace {

struct Lanes256x2 {
  struct V {
    __m256 lo, hi;
  };
  template <class F>
  static V each(V a, V b, F f) {
    return {f(a.lo, b.lo), f(a.hi, b.hi)};
  }
  static V zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static V load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  static void store(float* p, V v) {
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
  }
  static V set1(float x) { return {_mm256_set1_ps(x), _mm256_set1_ps(x)}; }
  static V fmadd(V a, V b, V c) { return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)}; }
  static V add(V a, V b) { return each(a, b, [](__m256 x, __m256 y) { return _mm256_add_ps(x, y); }); }
  static V sub(V a, V b) { return each(a, b, [](__m256 x, __m256 y) { return _mm256_sub_ps(x, y); }); }
  static V mul(V a, V b) { return each(a, b, [](__m256 x, __m256 y) { return _mm256_mul_ps(x, y); }); }
  static V max(V a, V b) { return each(a, b, [](__m256 x, __m256 y) { return _mm256_max_ps(x, y); }); }
  static V select_le(V a, V b, V x, V y) {
    return {_mm256_blendv_ps(y.lo, x.lo, _mm256_cmp_ps(a.lo, b.lo, _CMP_LE_OQ)),
            _mm256_blendv_ps(y.hi, x.hi, _mm256_cmp_ps(a.hi, b.hi, _CMP_LE_OQ))};
  }
  static __m256 round1(__m256 v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V round_nearest(V v) { return {round1(v.lo), round1(v.hi)}; }
  // 2^n built in the exponent field; n within [-126, 127] here (exp_nonpositive clamps).
  static __m256 pow2(__m256 n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static V ldexp(V v, V n) { return {_mm256_mul_ps(v.lo, pow2(n.lo)), _mm256_mul_ps(v.hi, pow2(n.hi))}; }
  static __m256 round_f16_1(__m256 v) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static V round_f16(V v) { return {round_f16_1(v.lo), round_f16_1(v.hi)}; }
};

struct Unpack32x256 {
  static void run(const uint8_t* q, float lo, float scale, float* dst) {
    __m128i a, b;
    q4g_nibbles(q, a, b);
    const __m256 m = _mm256_set1_ps(lo), s = _mm256_set1_ps(scale);
    auto eight = [&](__m128i bytes, float* out) {
      _mm256_storeu_ps(out, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), s, m));
    };
    eight(a, dst);
    eight(_mm_srli_si128(a, 8), dst + 8);
    eight(b, dst + 16);
    eight(_mm_srli_si128(b, 8), dst + 24);
  }
};

}  // namespace

AttentionTileKernels attention_tile_avx2() { return attention_tile_table<Lanes256x2, 4, 4, Unpack32x256>(); }

}  // namespace strata::cpu::detail
