// AVX-512 VNNI GEMM tiles.
// - tile: vpdpbusd on 256-bit vectors (AVX512_VL), 8 rows x 8 tokens per pass: the activation
//   word broadcast serves exactly the 8 rows of one panel (gemm_tile_impl.h).
// - tile_pair: two adjacent panels at once on 512-bit vectors, 16 rows x 8 tokens per pass. Each
//   weight vector is panel p's 8 rows in its lower half and panel p + 1's in its upper half (one
//   vinserti64x4 from memory), so every vpdpbusd and every scale step does twice the work of the
//   256-bit tile, and the 16 rows of one token are 16 consecutive floats of y: one store.

#include "kernels/cpu/gemm/gemm_internal.h"
#include "kernels/cpu/gemm/gemm_tile_impl.h"  // immintrin.h via avx2_util.h, GCC 12's false warnings off

namespace strata::cpu::detail {
namespace {

struct DotVnni {
  static __m256i add(__m256i sum, __m256i w, __m256i x) { return _mm256_dpbusd_epi32(sum, w, x); }
};

template <int G, bool kMin>
void tile(const void* panel, int rows, int64_t k, const void* acts, int n_tokens, float* y, int64_t y_stride) {
  gemm_tile<DotVnni, G, kMin, 8>(panel, rows, k, acts, n_tokens, y, y_stride);
}

inline __m512i load_pair_i(const uint8_t* lo, const uint8_t* hi) {
  return _mm512_inserti64x4(_mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi)), 1);
}

inline __m512 load_pair_ps(const uint8_t* lo, const uint8_t* hi) {
  return _mm512_insertf32x8(_mm512_zextps256_ps512(_mm256_loadu_ps(reinterpret_cast<const float*>(lo))),
                            _mm256_loadu_ps(reinterpret_cast<const float*>(hi)), 1);
}

// One pass of the pair: panels at `panel` and `panel + panel_bytes`, `rows` (9..16) of them real,
// against tokens s0 .. s0 + NT - 1 of one activation block. As gemm_tile_pass, 16 lanes wide.
template <int G, bool kMin, int NT>
void pair_pass(const uint8_t* panel, uint64_t panel_bytes, int rows, int64_t k, const uint8_t* blk, int s0, float* y,
               int64_t y_stride) {
  constexpr GemmFormat f{G, 0, kMin};
  const int64_t ng = f.groups(k);
  __m512 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  const uint8_t* p = panel;
  const uint8_t* a = blk;
  for (int64_t g = 0; g < ng; ++g, p += f.group_stride(), a += f.act_group_stride()) {
    const uint8_t* p2 = p + panel_bytes;
    __m512i w[G / 4];
#pragma GCC unroll 8
    for (int q = 0; q < G / 4; ++q) w[q] = load_pair_i(p + 32 * q, p2 + 32 * q);
    const __m512 scale = load_pair_ps(p + 8 * G, p2 + 8 * G);
    const auto* dx = reinterpret_cast<const float*>(a + f.act_dx()) + s0;
    const auto* osum = reinterpret_cast<const int32_t*>(a + f.act_osum()) + s0;
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const uint8_t* xq = a + (s0 + t) * G;
      __m512i sum = _mm512_set1_epi32(osum[t]);
#pragma GCC unroll 8
      for (int q = 0; q < G / 4; ++q) sum = _mm512_dpbusd_epi32(sum, w[q], _mm512_set1_epi32(gemm_load_i32(xq + 4 * q)));
      const __m512 s = _mm512_mul_ps(_mm512_cvtepi32_ps(sum), scale);
      acc[t] = _mm512_fmadd_ps(s, _mm512_set1_ps(dx[t]), acc[t]);
      if constexpr (kMin) {
        const auto* dxs = reinterpret_cast<const float*>(a + f.act_dxs()) + s0;
        const __m512 min = load_pair_ps(p + 8 * G + 32, p2 + 8 * G + 32);
        acc[t] = _mm512_fnmadd_ps(min, _mm512_set1_ps(dxs[t]), acc[t]);
      }
    }
  }
  const __mmask16 keep = static_cast<__mmask16>((1u << rows) - 1);
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * y_stride, keep, acc[t]);
}

template <int G, bool kMin>
void tile_pair(const void* panels, int rows, int64_t k, const void* acts, int n_tokens, float* y, int64_t y_stride) {
  constexpr GemmFormat f{G, 0, kMin};
  const auto* p = static_cast<const uint8_t*>(panels);
  const uint64_t panel_bytes = f.panel_bytes(k);
  gemm_token_passes<8>(n_tokens, f.act_block_bytes(k), acts, [&](const uint8_t* blk, int t, int s, auto nt) {
    pair_pass<G, kMin, nt()>(p, panel_bytes, rows, k, blk, s, y + (t + s) * y_stride, y_stride);
  });
}

}  // namespace

GemmTileFn gemm_tile_avx512(const GemmFormat& f) {
  if (f.group == 32) return f.has_min ? tile<32, true> : tile<32, false>;
  if (f.group == 16 && !f.has_min) return tile<16, false>;
  return nullptr;
}

GemmTileFn gemm_tile_pair_avx512(const GemmFormat& f) {
  if (f.group == 32) return f.has_min ? tile_pair<32, true> : tile_pair<32, false>;
  if (f.group == 16 && !f.has_min) return tile_pair<16, false>;
  return nullptr;
}

}  // namespace strata::cpu::detail
