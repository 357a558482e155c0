// AVX-512 tile of the float prefill GEMM (gemm_float_layout.h): 8 rows x 8 tokens per pass. One
// 512-bit vector holds a pair of elements of all 8 rows, widened from 32 bytes of the panel; each
// token's pair is one 8-byte broadcast, so a step is 8 fused multiply-adds of 16 lanes against
// one weight load, and the 8 accumulators are independent chains. tile_pair takes two panels (16
// rows) per pass, so each broadcast serves two weight vectors.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/gemm/gemm_float_layout.h"
#include "kernels/cpu/gemm/gemm_internal.h"
#include "kernels/cpu/gemm/gemm_token_passes.h"

namespace strata::cpu::detail {
namespace {

// GCC 12's plain forms of these start from an "undefined" vector and draw false
// -Wmaybe-uninitialized warnings once inlined; with every lane set the maskz forms are the same.
constexpr __mmask16 kAll = 0xFFFF;

struct WidenF16 {
  static __m512 load(const void* p) {
    return _mm512_maskz_cvtph_ps(kAll, _mm256_loadu_si256(static_cast<const __m256i*>(p)));
  }
};
struct WidenBF16 {
  static __m512 load(const void* p) {
    const __m512i v = _mm512_maskz_cvtepu16_epi32(kAll, _mm256_loadu_si256(static_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(kAll, v, 16));
  }
};

inline __m512 broadcast_pair(const float* p) {
  double d;
  std::memcpy(&d, p, 8);
  return _mm512_castpd_ps(_mm512_set1_pd(d));
}

// Tokens s0 .. s0 + NT - 1 of one block against the 8 rows of the panel. (Even and odd pairs in
// separate accumulators, two chains per token instead of one, measured no faster: pp128 of a 1B
// F16 model 122 and 114 against 122 tokens/s.)
template <class Widen, int NT>
void pass(const uint8_t* panel, int rows, int64_t pairs, const float* blk, int s0, float* y, int64_t y_stride) {
  __m512 acc[NT];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512 w = Widen::load(panel + 32 * p);
    const float* x = blk + 16 * p + 2 * s0;
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_fmadd_ps(w, broadcast_pair(x + 2 * t), acc[t]);
  }
  for (int t = 0; t < NT; ++t) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, acc[t]);
    for (int r = 0; r < rows; ++r) y[t * y_stride + r] = lanes[2 * r] + lanes[2 * r + 1];
  }
}

// Two adjacent panels (16 rows) at once: each token's broadcast pair serves both panels' weight
// vectors, half the broadcast loads per multiply-add of `pass`.
template <class Widen, int NT>
void pair_pass(const uint8_t* panel, uint64_t panel_bytes, int rows, int64_t pairs, const float* blk, int s0, float* y,
               int64_t y_stride) {
  __m512 acc[2][NT];
  for (auto& half : acc)
    for (auto& a : half) a = _mm512_setzero_ps();
  const uint8_t* panel2 = panel + panel_bytes;
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512 w0 = Widen::load(panel + 32 * p), w1 = Widen::load(panel2 + 32 * p);
    const float* x = blk + 16 * p + 2 * s0;
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const __m512 xt = broadcast_pair(x + 2 * t);
      acc[0][t] = _mm512_fmadd_ps(w0, xt, acc[0][t]);
      acc[1][t] = _mm512_fmadd_ps(w1, xt, acc[1][t]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    alignas(64) float lanes[2][16];
    _mm512_store_ps(lanes[0], acc[0][t]);
    _mm512_store_ps(lanes[1], acc[1][t]);
    for (int r = 0; r < rows; ++r) y[t * y_stride + r] = lanes[r / 8][2 * (r % 8)] + lanes[r / 8][2 * (r % 8) + 1];
  }
}

template <class Widen>
void tile_pair(const void* panels, int rows, int64_t k, const void* acts, int n_tokens, float* y, int64_t y_stride) {
  const auto* p = static_cast<const uint8_t*>(panels);
  const int64_t pairs = gemm_float_pairs(k);
  const uint64_t panel_bytes = gemm_float_panel_bytes(k);
  gemm_token_passes<8>(
      n_tokens, gemm_float_act_bytes(k), acts, [&](const uint8_t* blk, int t, int s, auto nt) {
        pair_pass<Widen, nt()>(p, panel_bytes, rows, pairs, reinterpret_cast<const float*>(blk), s,
                               y + (t + s) * y_stride, y_stride);
      });
}

template <class Widen>
void tile(const void* panel, int rows, int64_t k, const void* acts, int n_tokens, float* y, int64_t y_stride) {
  const auto* p = static_cast<const uint8_t*>(panel);
  const int64_t pairs = gemm_float_pairs(k);
  gemm_token_passes<8>(
      n_tokens, gemm_float_act_bytes(k), acts, [&](const uint8_t* blk, int t, int s, auto nt) {
        pass<Widen, nt()>(p, rows, pairs, reinterpret_cast<const float*>(blk), s, y + (t + s) * y_stride, y_stride);
      });
}

}  // namespace

GemmTileFn gemm_float_tile_avx512(TensorType t) {
  if (t == TensorType::F16) return tile<WidenF16>;
  if (t == TensorType::BF16) return tile<WidenBF16>;
  return nullptr;
}

GemmTileFn gemm_float_tile_pair_avx512(TensorType t) {
  if (t == TensorType::F16) return tile_pair<WidenF16>;
  if (t == TensorType::BF16) return tile_pair<WidenBF16>;
  return nullptr;
}

}  // namespace strata::cpu::detail
