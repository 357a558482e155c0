// The prefill GEMM of BF16 weights with AVX512_BF16: vdpbf16ps multiplies 16 lanes of bf16 pairs
// and adds both products to each float lane, twice the multiply-adds of an instruction of the
// float tile (gemm_float_tile_avx512.cpp), whose F32 activations it also halves.
//
// Its own layout (k padded with zeros to a multiple of 4), taken in quads of four elements:
// Panel of 8 rows, per quad q (64 bytes):
//   bf16 w[8][4]     row r's elements 4q .. 4q + 3: lane 2r + h of a 512-bit load holds the
//                    pair 2q + h of row r
// Activations in blocks of 8 tokens (missing tokens zero), per quad q (64 bytes):
//   bf16 x[8][4]     token t's elements 4q .. 4q + 3, rounded to bf16 as quantize_activation does
// A token's quad, broadcast as two 32-bit pairs (vbroadcasti32x2), meets in lane 2r + h the pair
// 2q + h of row r; the two lanes of a row are added at the end. Products of two bf16 values are
// exact; vdpbf16ps rounds its sums to nearest even with denormals flushed, as bf16_vec_dot does.
#include <immintrin.h>

#include <cassert>
#include <cstring>
#include <vector>

#include "kernels/cpu/gemm/gemm_float_layout.h"
#include "kernels/cpu/gemm/gemm_internal.h"
#include "kernels/cpu/gemm/gemm_token_passes.h"
#include "kernels/cpu/kernels.h"

namespace strata::cpu::detail {
namespace {

int64_t quads(int64_t k) { return (k + 3) / 4; }
uint64_t panel_bytes(int64_t k) { return uint64_t(64) * quads(k); }
uint64_t act_bytes(int64_t k) { return uint64_t(64) * quads(k); }

// Row or token r's k values (16-bit) into words [q][8][4] of `out`; the last quad zero-padded.
void put_row(const uint16_t* src, int64_t k, int r, uint8_t* out) {
  const int64_t whole = k / 4;
  for (int64_t q = 0; q < whole; ++q) std::memcpy(out + 64 * q + 8 * r, src + 4 * q, 8);
  if (k % 4 != 0) {
    uint16_t last[4] = {0, 0, 0, 0};
    std::memcpy(last, src + 4 * whole, static_cast<size_t>(k % 4) * 2);
    std::memcpy(out + 64 * whole + 8 * r, last, 8);
  }
}

void pack_panel(const void* w, uint64_t w_row_bytes, int rows, int64_t k, void* panel) {
  assert(rows >= 1 && rows <= kGemmPanelRows);
  auto* out = static_cast<uint8_t*>(panel);
  if (rows < kGemmPanelRows) std::memset(out, 0, panel_bytes(k));  // missing rows read as zero
  for (int r = 0; r < rows; ++r)
    put_row(reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(w) + r * w_row_bytes), k, r, out);
}

void pack_act(const float* x, int64_t x_stride, int n_tokens, int64_t k, void* dst) {
  assert(n_tokens >= 1 && n_tokens <= kGemmBlockTokens);
  auto* out = static_cast<uint8_t*>(dst);
  if (n_tokens < kGemmBlockTokens) std::memset(out, 0, act_bytes(k));  // missing tokens are zero
  thread_local std::vector<uint16_t> rounded;
  rounded.resize(static_cast<size_t>(k));
  for (int t = 0; t < n_tokens; ++t) {
    quantize_activation(TensorType::BF16, x + t * x_stride, rounded.data(), k);
    put_row(rounded.data(), k, t, out);
  }
}

// The maskz form with every lane set is the plain broadcast; GCC 12's plain intrinsic starts from
// an "undefined" vector and draws a false -Wmaybe-uninitialized warning once inlined.
inline __m512bh broadcast_quad(const uint8_t* p) {
  return (__m512bh)_mm512_maskz_broadcast_i32x2(0xFFFF, _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// Tokens s0 .. s0 + NT - 1 of one block against the 8 rows of the panel. Even and odd quads go
// to separate accumulators, so each token has two chains of dependent instructions, not one
// (vdpbf16ps has a longer latency than an FMA; not measured against one chain).
template <int NT>
void pass(const uint8_t* panel, int rows, int64_t nq, const uint8_t* blk, int s0, float* y, int64_t y_stride) {
  __m512 acc[2][NT];
  for (auto& set : acc)
    for (auto& a : set) a = _mm512_setzero_ps();
  const auto step = [&](int h, int64_t q) {
    const __m512bh w = (__m512bh)_mm512_loadu_si512(panel + 64 * q);
    const uint8_t* x = blk + 64 * q + 8 * s0;
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[h][t] = _mm512_dpbf16_ps(acc[h][t], w, broadcast_quad(x + 8 * t));
  };
  int64_t q = 0;
  for (; q + 2 <= nq; q += 2) {
    step(0, q);
    step(1, q + 1);
  }
  if (q < nq) step(0, q);
  for (int t = 0; t < NT; ++t) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, _mm512_add_ps(acc[0][t], acc[1][t]));
    for (int r = 0; r < rows; ++r) y[t * y_stride + r] = lanes[2 * r] + lanes[2 * r + 1];
  }
}

void tile(const void* panel, int rows, int64_t k, const void* acts, int n_tokens, float* y, int64_t y_stride) {
  const auto* p = static_cast<const uint8_t*>(panel);
  const int64_t nq = quads(k);
  gemm_token_passes<8>(n_tokens, act_bytes(k), acts, [&](const uint8_t* blk, int t, int s, auto nt) {
    pass<nt()>(p, rows, nq, blk, s, y + (t + s) * y_stride, y_stride);
  });
}

}  // namespace

GemmKernels gemm_bf16_dot_kernels() { return {panel_bytes, act_bytes, pack_panel, pack_act, tile, nullptr}; }

}  // namespace strata::cpu::detail
