// AVX2 attention tiles: the 16 rows are two registers, so 4 keys (or 4 output dimensions) per
// step keep the 8 accumulators and the operands within the 16 registers. The decode row kernels
// work on single registers of 8 floats.
#include <immintrin.h>

#include "kernels/cpu/attention/attention_tile_impl.h"

namespace strata::cpu::detail {
namespace {

// One register of 8 floats: the decode row kernels' type.
struct Ymm {
  using V = __m256;
  static constexpr int kWidth = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V select_le(V a, V b, V x, V y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LE_OQ)); }
  static V round_nearest(V v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 2^n built in the exponent field; n within [-126, 127] here (exp_nonpositive clamps).
  static V ldexp(V v, V n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_mul_ps(v, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));
  }
  static V round_f16(V v) { return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }
  // Lane i = the sum of acc[i]'s lanes: folded within 128-bit halves, then across them.
  static V sum_each(const V* acc) {
    V a[4], b[2];
    for (int i = 0; i < 4; ++i) {
      const V x = acc[2 * i], y = acc[2 * i + 1];
      a[i] = _mm256_add_ps(_mm256_unpacklo_ps(x, y), _mm256_unpackhi_ps(x, y));
    }
    for (int i = 0; i < 2; ++i) {
      const __m256d x = _mm256_castps_pd(a[2 * i]), y = _mm256_castps_pd(a[2 * i + 1]);
      b[i] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(x, y)), _mm256_castpd_ps(_mm256_unpackhi_pd(x, y)));
    }
    return _mm256_add_ps(_mm256_permute2f128_ps(b[0], b[1], 0x20), _mm256_permute2f128_ps(b[0], b[1], 0x31));
  }
};

// The 16 lanes of a tile as two Ymm registers.
struct Lanes256x2 {
  struct V {
    __m256 lo, hi;
  };
  template <class F>
  static V each(V a, V b, F f) {
    return {f(a.lo, b.lo), f(a.hi, b.hi)};
  }
  static V zero() { return {Ymm::zero(), Ymm::zero()}; }
  static V load(const float* p) { return {Ymm::load(p), Ymm::load(p + 8)}; }
  static void store(float* p, V v) {
    Ymm::store(p, v.lo);
    Ymm::store(p + 8, v.hi);
  }
  static V set1(float x) { return {Ymm::set1(x), Ymm::set1(x)}; }
  static V fmadd(V a, V b, V c) { return {Ymm::fmadd(a.lo, b.lo, c.lo), Ymm::fmadd(a.hi, b.hi, c.hi)}; }
  static V add(V a, V b) { return each(a, b, Ymm::add); }
  static V sub(V a, V b) { return each(a, b, Ymm::sub); }
  static V mul(V a, V b) { return each(a, b, Ymm::mul); }
  static V max(V a, V b) { return each(a, b, Ymm::max); }
  static V select_le(V a, V b, V x, V y) {
    return {Ymm::select_le(a.lo, b.lo, x.lo, y.lo), Ymm::select_le(a.hi, b.hi, x.hi, y.hi)};
  }
  static V round_nearest(V v) { return {Ymm::round_nearest(v.lo), Ymm::round_nearest(v.hi)}; }
  static V ldexp(V v, V n) { return {Ymm::ldexp(v.lo, n.lo), Ymm::ldexp(v.hi, n.hi)}; }
  static V round_f16(V v) { return {Ymm::round_f16(v.lo), Ymm::round_f16(v.hi)}; }
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

AttentionTileKernels attention_tile_avx2() { return attention_tile_table<Lanes256x2, 4, 4, Unpack32x256, Ymm>(); }

}  // namespace strata::cpu::detail
