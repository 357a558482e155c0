// The scalar GEMM tile: the packed layouts read as gemm_layout.h defines them, one row and token
// at a time. The GEMM path on CPUs without AVX2, and a readable statement of the layout.
#include <cstring>

#include "kernels/cpu/gemm/gemm_internal.h"

namespace strata::cpu::detail {
namespace {

template <int G, bool kMin>
void tile(const void* panel, int rows, int64_t k, const void* acts, int n_tokens, float* y, int64_t y_stride) {
  const GemmFormat f{G, 0, kMin};
  const auto* p = static_cast<const uint8_t*>(panel);
  const auto* x = static_cast<const uint8_t*>(acts);
  auto f32 = [](const uint8_t* b) {
    float v;
    std::memcpy(&v, b, 4);
    return v;
  };
  for (int t = 0; t < n_tokens; ++t) {
    const uint8_t* blk = x + (t / kGemmBlockTokens) * f.act_block_bytes(k);
    const int s = t % kGemmBlockTokens;
    for (int r = 0; r < rows; ++r) {
      float acc = 0.0f;
      for (int64_t g = 0; g < f.groups(k); ++g) {
        const uint8_t* w = p + g * f.group_stride();
        const uint8_t* a = blk + g * f.act_group_stride();
        int32_t osum;
        std::memcpy(&osum, a + f.act_osum() + 4 * s, 4);
        int32_t sum = osum;
        for (int e = 0; e < G; ++e) sum += w[((e / 4) * 8 + r) * 4 + e % 4] * static_cast<int8_t>(a[s * G + e]);
        acc += f32(w + 8 * G + 4 * r) * f32(a + f.act_dx() + 4 * s) * static_cast<float>(sum);
        if (kMin) acc -= f32(w + 8 * G + 32 + 4 * r) * f32(a + f.act_dxs() + 4 * s);
      }
      y[t * y_stride + r] = acc;
    }
  }
}

}  // namespace

GemmTileFn gemm_tile_reference(const GemmFormat& f) {
  if (f.group == 32) return f.has_min ? tile<32, true> : tile<32, false>;
  if (f.group == 16 && !f.has_min) return tile<16, false>;
  return nullptr;
}

}  // namespace strata::cpu::detail
