// AVX-512 VNNI GEMM tile: vpdpbusd on 256-bit vectors (AVX512_VL), 8 rows x 8 tokens per pass.
// vpdpbusd does the u8 x i8 products and the four-way sum into int32 in one instruction; the 32
// vector registers hold G/4 = 8 weight vectors, 8 accumulators and the scales. (256-bit rather
// than 512-bit: the activation word broadcast then serves exactly the 8 rows of one panel.)
#include <utility>

#include "kernels/cpu/gemm/gemm_internal.h"
#include "kernels/cpu/gemm/gemm_tile_impl.h"

namespace strata::cpu::detail {
namespace {

struct DotVnni {
  static __m256i add(__m256i sum, __m256i w, __m256i x) { return _mm256_dpbusd_epi32(sum, w, x); }
};

template <int G, bool kMin>
void tile(const void* panel, int rows, int64_t k, const void* acts, int n_tokens, float* y, int64_t y_stride) {
  gemm_tile<DotVnni, G, kMin, 8>(panel, rows, k, acts, n_tokens, y, y_stride);
}

}  // namespace

GemmTileFn gemm_tile_avx512(const GemmFormat& f) {
  if (f.group == 32) return f.has_min ? tile<32, true> : tile<32, false>;
  if (f.group == 16 && !f.has_min) return tile<16, false>;
  return nullptr;
}

}  // namespace strata::cpu::detail
