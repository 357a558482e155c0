// Prefill GEMM: many activation rows (tokens) against the same weight rows at once.
//
// A vec_dot per (row, token) reloads and re-decodes each weight block for every token. Here a
// panel of kGemmPanelRows weight rows is first repacked (pack_panel) into a layout the integer
// dot-product instructions consume directly: unsigned bytes, interleaved four at a time across the
// eight rows, with one float scale (and min) per group of 16 or 32 elements per row. The tile
// kernel then computes the 8 rows against several tokens per pass: each loaded weight vector
// serves every token, each broadcast activation word serves all eight rows, and the result for
// eight rows of one token lands in one vector, so no horizontal sums are needed.
//
// Activations are quantized exactly as for vec_dot (Q8_0 or Q8_K, quantize_activation) and then
// laid out by pack_act in blocks of kGemmBlockTokens tokens, interleaved per group with the
// group's scale and sum terms. The integer
// sums are exact and equal the reference's; only float rounding order differs (see
// docs/tensor-types.md, "Prefill GEMM").
//
//   const GemmKernels* g = gemm_kernels_for(w_type);      // nullptr: use vec_dot instead
//   g->pack_act(x + 8 * b * k, k, tokens, k, acts + b * g->act_bytes(k));  // per 8 tokens
//   g->pack_panel(w_rows, w_row_bytes, rows, k, panel);    // per 8 weight rows (rows <= 8)
//   g->tile(panel, rows, k, acts, n_tokens, y, y_stride);  // acts: consecutive token blocks
//   g->tile_pair(panels, rows, k, acts, n_tokens, y, y_stride);  // two panels, where non-null
#pragma once

#include <cstdint>
#include <string_view>

#include "kernels/cpu/tensor_type.h"

namespace strata::cpu {

inline constexpr int kGemmPanelRows = 8;
inline constexpr int kGemmBlockTokens = 8;

struct GemmKernels {
  // Bytes of one packed panel (8 rows) / one packed block of 8 activation rows, of k elements
  // (k a multiple of the weight type's block size).
  uint64_t (*panel_bytes)(int64_t k);
  uint64_t (*act_bytes)(int64_t k);
  // Repack `rows` (1..8) weight rows, w_row_bytes apart, into `panel`; missing rows are zero.
  void (*pack_panel)(const void* w, uint64_t w_row_bytes, int rows, int64_t k, void* panel);
  // Quantize n_tokens (1..8) activation rows of k floats, x_stride floats apart (as
  // quantize_activation), into one block at `dst`; missing tokens are zero.
  void (*pack_act)(const float* x, int64_t x_stride, int n_tokens, int64_t k, void* dst);
  // y[t * y_stride + r] = dot(weight row r, activation t) for r < rows, t < n_tokens, with the
  // activations in consecutive blocks of 8 tokens from `acts`.
  void (*tile)(const void* panel, int rows, int64_t k, const void* acts, int n_tokens, float* y, int64_t y_stride);
  // Two consecutive panels (panel_bytes(k) apart) at once, `rows` 9..16 of their 16 rows, as tile
  // does for one; nullptr where the level has no wider tile (then tile, panel by panel).
  void (*tile_pair)(const void* panels, int rows, int64_t k, const void* acts, int n_tokens, float* y,
                    int64_t y_stride);
};

// The GEMM kernels of the level kernels_for() uses, or nullptr when that level has none for this
// weight type (then vec_dot is the way).
const GemmKernels* gemm_kernels_for(TensorType weight_type);

// One level's ("reference", "avx2", "avx512"), or nullptr (no such level on this CPU, or no
// GEMM for the type there). For tests and benchmarks.
const GemmKernels* gemm_kernels_at_level(TensorType weight_type, std::string_view level);

}  // namespace strata::cpu
