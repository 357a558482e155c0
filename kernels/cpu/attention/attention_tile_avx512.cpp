// AVX-512 attention tiles: the 16 rows are one register. 8 keys (or 8 output dimensions) per
// step: 8 accumulators, and every multiply-add takes its broadcast straight from memory.
#include <immintrin.h>

#include "kernels/cpu/attention/attention_tile_impl.h"

namespace strata::cpu::detail {
namespace {

// The masked (maskz) forms with every lane set: the unmasked intrinsics start from an
// undefined register, which GCC 12 reports as possibly uninitialized.
struct Lanes512 {
  using V = __m512;
  static constexpr __mmask16 kAll = 0xFFFF;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V max(V a, V b) { return _mm512_maskz_max_ps(kAll, a, b); }
  static V select_le(V a, V b, V x, V y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LE_OQ), y, x); }
  static V round_nearest(V v) {
    return _mm512_maskz_roundscale_ps(kAll, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static V ldexp(V v, V n) { return _mm512_maskz_scalef_ps(kAll, v, n); }
  static V round_f16(V v) {
    return _mm512_maskz_cvtph_ps(kAll, _mm512_maskz_cvtps_ph(kAll, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

struct Unpack32x512 {
  static void run(const uint8_t* q, float lo, float scale, float* dst) {
    __m128i a, b;
    q4g_nibbles(q, a, b);
    const __m512 m = _mm512_set1_ps(lo), s = _mm512_set1_ps(scale);
    auto sixteen = [&](__m128i bytes) {
      constexpr __mmask16 kAll = Lanes512::kAll;
      return _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(kAll, _mm512_maskz_cvtepu8_epi32(kAll, bytes)), s, m);
    };
    _mm512_storeu_ps(dst, sixteen(a));
    _mm512_storeu_ps(dst + 16, sixteen(b));
  }
};

}  // namespace

AttentionTileKernels attention_tile_avx512() { return attention_tile_table<Lanes512, 8, 8, Unpack32x512>(); }

}  // namespace strata::cpu::detail
