// AVX2 tile of the float prefill GEMM (gemm_float_layout.h): 8 rows x 4 tokens per pass. A pair
// of elements of 8 rows is two 256-bit vectors (rows 0-3 and 4-7), widened from 32 bytes of the
// panel; each token's pair is one 8-byte broadcast. 8 accumulators, 2 weight vectors and the
// broadcast fit AVX2's 16 registers.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/gemm/gemm_float_layout.h"
#include "kernels/cpu/gemm/gemm_internal.h"
#include "kernels/cpu/gemm/gemm_token_passes.h"

namespace strata::cpu::detail {
namespace {

inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

struct WidenF16 {
  static __m256 load(const void* p) { return _mm256_cvtph_ps(load128(p)); }
};
struct WidenBF16 {
  static __m256 load(const void* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
  }
};

inline __m256 broadcast_pair(const float* p) {
  double d;
  std::memcpy(&d, p, 8);
  return _mm256_castpd_ps(_mm256_set1_pd(d));
}

template <class Widen, int NT>
void pass(const uint8_t* panel, int rows, int64_t pairs, const float* blk, int s0, float* y, int64_t y_stride) {
  __m256 lo[NT], hi[NT];
  for (int t = 0; t < NT; ++t) lo[t] = hi[t] = _mm256_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m256 w_lo = Widen::load(panel + 32 * p), w_hi = Widen::load(panel + 32 * p + 16);
    const float* x = blk + 16 * p + 2 * s0;
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const __m256 b = broadcast_pair(x + 2 * t);
      lo[t] = _mm256_fmadd_ps(w_lo, b, lo[t]);
      hi[t] = _mm256_fmadd_ps(w_hi, b, hi[t]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    alignas(32) float lanes[16];
    _mm256_store_ps(lanes, lo[t]);
    _mm256_store_ps(lanes + 8, hi[t]);
    for (int r = 0; r < rows; ++r) y[t * y_stride + r] = lanes[2 * r] + lanes[2 * r + 1];
  }
}

template <class Widen>
void tile(const void* panel, int rows, int64_t k, const void* acts, int n_tokens, float* y, int64_t y_stride) {
  const auto* p = static_cast<const uint8_t*>(panel);
  const int64_t pairs = gemm_float_pairs(k);
  gemm_token_passes<4>(
      n_tokens, gemm_float_act_bytes(k), acts, [&](const uint8_t* blk, int t, int s, auto nt) {
        pass<Widen, nt()>(p, rows, pairs, reinterpret_cast<const float*>(blk), s, y + (t + s) * y_stride, y_stride);
      });
}

}  // namespace

GemmTileFn gemm_float_tile_avx2(TensorType t) {
  if (t == TensorType::F16) return tile<WidenF16>;
  if (t == TensorType::BF16) return tile<WidenBF16>;
  return nullptr;
}

}  // namespace strata::cpu::detail
