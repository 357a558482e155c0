// Internal to kernels/cpu/gemm: the token loop every prefill GEMM tile shares (integer tiles,
// gemm_tile_impl.h; float tiles, gemm_float_tile_*.cpp; the BF16 dot tile, gemm_bf16_dot.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/cpu/gemm.h"

namespace strata::cpu::detail {

// All n_tokens, block by block (activation blocks of kGemmBlockTokens tokens, block_bytes apart
// from acts): passes of kPass tokens (a divisor of 8: as many accumulators as the tile's
// registers allow), then one of exactly the tokens left in the block:
//   pass(const uint8_t* block, int first_token_of_block, int s0, std::integral_constant<int, NT>)
// covers tokens s0 .. s0 + NT - 1 of the block. Each token's sums are its own, so how the tokens
// are grouped into passes changes speed only, never results.
template <int kPass, class Pass>
static inline void gemm_token_passes(int n_tokens, uint64_t block_bytes, const void* acts, Pass pass) {
  static_assert(kGemmBlockTokens % kPass == 0);
  const auto* blk = static_cast<const uint8_t*>(acts);
  for (int t = 0; t < n_tokens; t += kGemmBlockTokens, blk += block_bytes) {
    const int in_block = std::min(kGemmBlockTokens, n_tokens - t);
    int s = 0;
    for (; s + kPass <= in_block; s += kPass) pass(blk, t, s, std::integral_constant<int, kPass>{});
    const int left = in_block - s;
    [&]<int... I>(std::integer_sequence<int, I...>) {
      ((left == I + 1 ? pass(blk, t, s, std::integral_constant<int, I + 1>{}) : void()), ...);
    }(std::make_integer_sequence<int, kPass - 1>{});
  }
}

}  // namespace strata::cpu::detail
