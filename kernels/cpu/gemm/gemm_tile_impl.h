// The GEMM tile loop shared by the AVX2 and AVX-512 files, parameterized by the instruction that
// adds 8 rows x 4 bytes of unsigned weights times 4 signed activation bytes into int32 lanes.
// Include only from files compiled with AVX2 (or wider) flags; everything is static inline.
//
// Per group of G elements the G/4 weight vectors (8 rows x 4 bytes) are loaded once and serve
// every token of the pass; each token's 4-byte activation words are broadcast from memory, so one
// step does 8 rows x 4 elements and lane r ends as row r's exact group sum, scaled in float once
// per group. No horizontal sums: the 8 rows of one token are one vector.
#pragma once

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/gemm/gemm_layout.h"
#include "kernels/cpu/gemm/gemm_token_passes.h"

namespace strata::cpu::detail {

static inline int32_t gemm_load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Dot: static __m256i add(__m256i sum, __m256i w, __m256i x) -> sum + per-lane u8 x i8 dot of 4.
// One pass: the 8 rows of `panel` against tokens s0 .. s0 + NT - 1 of one activation block.
template <class Dot, int G, bool kMin, int NT>
static inline void gemm_tile_pass(const uint8_t* panel, int rows, int64_t k, const uint8_t* blk, int s0, float* y,
                                  int64_t y_stride) {
  constexpr GemmFormat f{G, 0, kMin};
  const int64_t ng = f.groups(k);
  __m256 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const uint8_t* p = panel;
  const uint8_t* a = blk;
  for (int64_t g = 0; g < ng; ++g, p += f.group_stride(), a += f.act_group_stride()) {
    __m256i w[G / 4];
#pragma GCC unroll 8
    for (int q = 0; q < G / 4; ++q) w[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * q));
    const __m256 scale = _mm256_loadu_ps(reinterpret_cast<const float*>(p + 8 * G));
    const auto* dx = reinterpret_cast<const float*>(a + f.act_dx()) + s0;
    const auto* osum = reinterpret_cast<const int32_t*>(a + f.act_osum()) + s0;
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const uint8_t* xq = a + (s0 + t) * G;
      __m256i sum = _mm256_set1_epi32(osum[t]);
#pragma GCC unroll 8
      for (int q = 0; q < G / 4; ++q) sum = Dot::add(sum, w[q], _mm256_set1_epi32(gemm_load_i32(xq + 4 * q)));
      const __m256 s = _mm256_mul_ps(_mm256_cvtepi32_ps(sum), scale);
      acc[t] = _mm256_fmadd_ps(s, _mm256_set1_ps(dx[t]), acc[t]);
      if constexpr (kMin) {
        const auto* dxs = reinterpret_cast<const float*>(a + f.act_dxs()) + s0;
        const __m256 min = _mm256_loadu_ps(reinterpret_cast<const float*>(p + 8 * G + 32));
        acc[t] = _mm256_fnmadd_ps(min, _mm256_set1_ps(dxs[t]), acc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) {
    if (rows == 8) {
      _mm256_storeu_ps(y + t * y_stride, acc[t]);
    } else {
      alignas(32) float tmp[8];
      _mm256_store_ps(tmp, acc[t]);
      std::memcpy(y + t * y_stride, tmp, sizeof(float) * static_cast<size_t>(rows));
    }
  }
}

template <class Dot, int G, bool kMin, int kPass>
static inline void gemm_tile(const void* panel, int rows, int64_t k, const void* acts, int n_tokens, float* y,
                             int64_t y_stride) {
  constexpr GemmFormat f{G, 0, kMin};
  const auto* p = static_cast<const uint8_t*>(panel);
  gemm_token_passes<kPass>(n_tokens, f.act_block_bytes(k), acts, [&](const uint8_t* blk, int t, int s, auto nt) {
    gemm_tile_pass<Dot, G, kMin, nt()>(p, rows, k, blk, s, y + (t + s) * y_stride, y_stride);
  });
}

}  // namespace strata::cpu::detail
