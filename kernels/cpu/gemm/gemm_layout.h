// Internal to kernels/cpu/gemm: the packed panel and activation layouts shared by the packers and
// the tile kernels of every level. Only static inline code (see fp16.h on why).
//
// Every supported weight type is read as groups of G elements (G = 32, or 16 for Q6_K) whose
// value is  scale * (u - offset) - min  with u an unsigned byte: Q4_0 u = nibble, offset 8;
// Q5_0 u = 5 bits, offset 16; Q8_0 u = q + 128, offset 128; Q4_K / Q5_K offset 0 and a min;
// Q6_K u = 6 bits, offset 32. Unsigned weights are what vpdpbusd / vpmaddubsw multiply with
// signed activations, and the offset becomes one integer per activation group (-offset * sum x).
//
// Panel of 8 rows, per group g (group_stride bytes each):
//   u8  bytes[G / 4][8][4]   word q of row r: elements 4q..4q+3 of the group
//   f32 scale[8]             per row
//   f32 min[8]               per row, only for types with a min
// Activations come in blocks of 8 tokens (missing tokens zero), per group g (act_group_stride):
//   i8  q[8][G]              token t's G values
//   f32 dx[8]; i32 osum[8]   (= -offset * sum of the group's q)
//   f32 dxs[8]               (= dx * sum of the group's q, only for types with a min)
// so a tile walks weights and activations with one pointer each and constant offsets.
// A group's contribution for row r, token t is
//   scale[r] * dx[t] * (sum u * q + osum[t]) - min[r] * dxs[t].
#pragma once

#include <cstdint>

#include "kernels/cpu/gemm.h"

namespace strata::cpu::detail {

struct GemmFormat {
  int group;     // G
  int offset;    // subtracted from u
  bool has_min;  // Q4_K / Q5_K

  int64_t groups(int64_t k) const { return k / group; }
  uint64_t group_stride() const { return uint64_t(8) * group + 32 + (has_min ? 32 : 0); }
  uint64_t panel_bytes(int64_t k) const { return group_stride() * static_cast<uint64_t>(groups(k)); }
  // Offsets inside an activation group.
  uint64_t act_dx() const { return uint64_t(kGemmBlockTokens) * group; }
  uint64_t act_osum() const { return act_dx() + 4 * kGemmBlockTokens; }
  uint64_t act_dxs() const { return act_osum() + 4 * kGemmBlockTokens; }
  uint64_t act_group_stride() const { return act_dxs() + (has_min ? 4 * kGemmBlockTokens : 0); }
  uint64_t act_block_bytes(int64_t k) const { return act_group_stride() * static_cast<uint64_t>(groups(k)); }
};

}  // namespace strata::cpu::detail
