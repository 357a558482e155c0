// AVX2 GEMM tile: 8 rows x 4 tokens per pass (16 vector registers). Without VNNI the u8 x i8
// step is vpmaddubsw (pairs into int16) then vpmaddwd with ones (pairs of those into int32). The
// int16 pair sum is exact only while u * 127 * 2 fits in int16 (u <= 129); every format but
// Q8_0's (u = q + 128 reaches 255), which therefore has no AVX2 tile.
#include <utility>

#include "kernels/cpu/gemm/gemm_internal.h"
#include "kernels/cpu/gemm/gemm_tile_impl.h"

namespace strata::cpu::detail {
namespace {

struct DotMaddubs {
  static __m256i add(__m256i sum, __m256i w, __m256i x) {
    const __m256i pairs = _mm256_maddubs_epi16(w, x);
    return _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
};

template <int G, bool kMin>
void tile(const void* panel, int rows, int64_t k, const void* acts, int n_tokens, float* y, int64_t y_stride) {
  gemm_tile<DotMaddubs, G, kMin, 4>(panel, rows, k, acts, n_tokens, y, y_stride);
}

}  // namespace

GemmTileFn gemm_tile_avx2(const GemmFormat& f) {
  if (f.offset >= 128) return nullptr;  // Q8_0: u up to 255
  if (f.group == 32) return f.has_min ? tile<32, true> : tile<32, false>;
  if (f.group == 16 && !f.has_min) return tile<16, false>;
  return nullptr;
}

}  // namespace strata::cpu::detail
