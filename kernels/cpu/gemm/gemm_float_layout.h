// Internal to kernels/cpu/gemm: the packed layouts of the float prefill GEMM, for 16-bit float
// weights (F16, BF16), shared by its packers (gemm_float.cpp) and tiles. Only static inline code.
//
// Elements are taken in pairs (k is padded with a zero to an even length):
// Panel of 8 rows, per pair p (32 bytes):
//   u16 w[8][2]      row r's elements 2p and 2p + 1, in the weight's own 16-bit format
// Activations in blocks of 8 tokens (missing tokens zero), per pair p (64 bytes):
//   f32 x[8][2]      token t's elements 2p and 2p + 1, rounded to the weight's format first (as
//                    quantize_activation does for vec_dot) and widened back, so exact in float
// A tile widens one pair of the panel to floats (8 rows x 2 lanes), multiplies it by one
// token's pair broadcast to every row, and adds; the two lanes of a row are added at the end.
// A product of two fp16 or two bf16 values is exact in float, so results differ from the
// reference (which sums in double) only by float summation order.
#pragma once

#include <cstdint>

#include "kernels/cpu/gemm.h"

namespace strata::cpu::detail {

static inline int64_t gemm_float_pairs(int64_t k) { return (k + 1) / 2; }
static inline uint64_t gemm_float_panel_bytes(int64_t k) { return uint64_t(32) * gemm_float_pairs(k); }
static inline uint64_t gemm_float_act_bytes(int64_t k) { return uint64_t(64) * gemm_float_pairs(k); }

}  // namespace strata::cpu::detail
