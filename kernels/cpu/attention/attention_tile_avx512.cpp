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
  static constexpr int kWidth = 16;
  // Lane i = the sum of acc[i]'s lanes. Pairs are folded within 128-bit lanes (unpack of floats,
  // then of float pairs) until each 128-bit lane holds 4 keys' partial sums, then the 128-bit
  // lanes are folded across registers twice.
  static V sum_each(const V* acc) {
    auto fold_pairs = [](V x, V y) {  // per 128-bit lane: x0+x2, y0+y2, x1+x3, y1+y3
      return _mm512_add_ps(_mm512_maskz_unpacklo_ps(kAll, x, y), _mm512_maskz_unpackhi_ps(kAll, x, y));
    };
    auto fold_quads = [](V x, V y) {  // per 128-bit lane: the float pairs of x and y, added
      const __m512d a = _mm512_castps_pd(x), b = _mm512_castps_pd(y);
      return _mm512_add_ps(_mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, a, b)),
                           _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, a, b)));
    };
    auto fold_lanes = [](V x, V y) {  // 128-bit lanes (0,2) of x, y plus lanes (1,3) of x, y
      return _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, x, y, 0x88), _mm512_maskz_shuffle_f32x4(kAll, x, y, 0xDD));
    };
    V a[8], b[4], c[2];
    for (int i = 0; i < 8; ++i) a[i] = fold_pairs(acc[2 * i], acc[2 * i + 1]);
    for (int i = 0; i < 4; ++i) b[i] = fold_quads(a[2 * i], a[2 * i + 1]);
    for (int i = 0; i < 2; ++i) c[i] = fold_lanes(b[2 * i], b[2 * i + 1]);
    return fold_lanes(c[0], c[1]);
  }
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

AttentionTileKernels attention_tile_avx512() { return attention_tile_table<Lanes512, 8, 8, Unpack32x512, Lanes512>(); }

}  // namespace strata::cpu::detail
