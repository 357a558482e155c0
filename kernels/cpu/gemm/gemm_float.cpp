// The float prefill GEMM's packers and its scalar tile (gemm_float_layout.h): F16 and BF16
// weights against activations rounded to the weight's format. Packing a panel is a copy into
// pairs; packing activations rounds and widens them once for every panel that reads them. Also
// the choice of each level's float GEMM (gemm_float_kernels).
#include <cassert>
#include <cstring>
#include <vector>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/gemm/gemm_float_layout.h"
#include "kernels/cpu/gemm/gemm_internal.h"
#include "kernels/cpu/kernels.h"

namespace strata::cpu::detail {
namespace {

// A pair is one 32-bit word, so packing is a transpose of 8 rows of words into words of 8 rows.
void pack_panel(const void* w, uint64_t w_row_bytes, int rows, int64_t k, void* panel) {
  assert(rows >= 1 && rows <= kGemmPanelRows);
  auto* out = static_cast<uint8_t*>(panel);
  if (rows < kGemmPanelRows) std::memset(out, 0, gemm_float_panel_bytes(k));  // missing rows read as zero
  const int64_t whole = k / 2;
  for (int r = 0; r < rows; ++r) {
    const auto* src = static_cast<const uint8_t*>(w) + r * w_row_bytes;
    for (int64_t p = 0; p < whole; ++p) std::memcpy(out + 32 * p + 4 * r, src + 4 * p, 4);
    if (k % 2 != 0) {  // the last pair of an odd k: its element, then a zero
      const uint16_t last[2] = {reinterpret_cast<const uint16_t*>(src)[k - 1], 0};
      std::memcpy(out + 32 * whole + 4 * r, last, 4);
    }
  }
}

template <TensorType kType>
void pack_act(const float* x, int64_t x_stride, int n_tokens, int64_t k, void* dst) {
  assert(n_tokens >= 1 && n_tokens <= kGemmBlockTokens);
  auto* out = static_cast<float*>(dst);
  std::memset(out, 0, gemm_float_act_bytes(k));  // missing tokens are zero
  thread_local std::vector<uint16_t> rounded;
  thread_local std::vector<float> widened;
  rounded.resize(static_cast<size_t>(k));
  widened.resize(static_cast<size_t>(k));
  const TypeKernels& kernels = kernels_for(kType);
  for (int t = 0; t < n_tokens; ++t) {
    quantize_activation(kType, x + t * x_stride, rounded.data(), k);
    kernels.to_float(rounded.data(), widened.data(), k);
    for (int64_t i = 0; i < k; ++i) out[(i / 2) * 16 + t * 2 + i % 2] = widened[i];
  }
}

template <TensorType kType>
float widen(uint16_t v) {
  return kType == TensorType::F16 ? fp16_to_fp32(v) : bf16_to_fp32(v);
}

template <TensorType kType>
void tile_reference(const void* panel, int rows, int64_t k, const void* acts, int n_tokens, float* y,
                    int64_t y_stride) {
  const auto* w = static_cast<const uint16_t*>(panel);
  const auto* x = static_cast<const float*>(acts);
  const int64_t pairs = gemm_float_pairs(k);
  for (int t = 0; t < n_tokens; ++t) {
    const float* blk = x + (t / kGemmBlockTokens) * (gemm_float_act_bytes(k) / 4);
    const int s = t % kGemmBlockTokens;
    for (int r = 0; r < rows; ++r) {
      float acc = 0.0f;
      for (int64_t p = 0; p < pairs; ++p)
        for (int j = 0; j < 2; ++j) acc += widen<kType>(w[p * 16 + r * 2 + j]) * blk[p * 16 + s * 2 + j];
      y[t * y_stride + r] = acc;
    }
  }
}

}  // namespace

bool gemm_float_kernels(TensorType t, int level, GemmKernels& k) {
  if (t != TensorType::F16 && t != TensorType::BF16) return false;
  const bool f16 = t == TensorType::F16;
#if defined(STRATA_KERNELS_X86)
  // vdpbf16ps does twice the float tile's work per instruction, with a layout of its own.
  if (level == 2 && !f16 && cpu_features().avx512bf16) {
    k = gemm_bf16_dot_kernels();
    return true;
  }
#endif
  k.panel_bytes = gemm_float_panel_bytes;
  k.act_bytes = gemm_float_act_bytes;
  k.pack_panel = pack_panel;
  k.pack_act = f16 ? pack_act<TensorType::F16> : pack_act<TensorType::BF16>;
  switch (level) {
    case 0:
      k.tile = f16 ? tile_reference<TensorType::F16> : tile_reference<TensorType::BF16>;
      break;
#if defined(STRATA_KERNELS_X86)
    case 1:
      k.tile = gemm_float_tile_avx2(t);
      break;
    case 2:
      k.tile = gemm_float_tile_avx512(t);
      k.tile_pair = gemm_float_tile_pair_avx512(t);
      break;
#endif
    default:
      k.tile = nullptr;
  }
  return k.tile != nullptr;
}

}  // namespace strata::cpu::detail
