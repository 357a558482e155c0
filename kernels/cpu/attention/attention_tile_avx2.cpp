// AVX2 attention tiles: the 16 rows are two registers, so 4 keys (or 4 output dimensions) per
// step keep the 8 accumulators and the operands within the 16 registers. The decode row kernels
// work on single registers of 8 floats.
#include <immintrin.h>

#include "kernels/cpu/attention/attention_tile_impl.h"
#include "kernels/cpu/avx2/ymm_lanes.h"

namespace strata::cpu::detail {
namespace {

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
