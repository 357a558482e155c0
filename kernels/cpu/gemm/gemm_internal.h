// Internal to kernels/cpu: the pieces the GEMM dispatch (gemm.cpp) assembles per weight type and
// level. Packers are shared by every level; tiles are per level.
#pragma once

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm/gemm_layout.h"

namespace strata::cpu::detail {

using GemmTileFn = decltype(GemmKernels::tile);

// The layout a weight type packs to, or nullptr when it has no GEMM path.
const GemmFormat* gemm_format(TensorType weight_type);

// gemm_pack.cpp: the level-independent members (panel_bytes, act_bytes, pack_panel, pack_act);
// false when the type has no GEMM path.
bool gemm_packers(TensorType weight_type, GemmKernels& k);

// The tile kernel of a level for a format, or nullptr. avx2 needs every u < 128 (vpmaddubsw
// sums two products in int16), so it has no Q8_0 (`offset` 128).
GemmTileFn gemm_tile_reference(const GemmFormat& f);
GemmTileFn gemm_tile_avx2(const GemmFormat& f);    // STRATA_KERNELS_X86 only
GemmTileFn gemm_tile_avx512(const GemmFormat& f);  // STRATA_KERNELS_X86 only
// GemmKernels::tile_pair of the AVX-512 level (16 rows per pass), or nullptr.
GemmTileFn gemm_tile_pair_avx512(const GemmFormat& f);  // STRATA_KERNELS_X86 only

// The float GEMM of 16-bit float weights, F16 and BF16 (gemm_float_layout.h): the whole table
// entry at a level (0 reference, 1 avx2, 2 avx512), with AVX512_BF16's own layout for BF16 where
// the CPU has it; false for other types and levels without it. Then the tiles it picks from.
bool gemm_float_kernels(TensorType weight_type, int level, GemmKernels& k);
GemmTileFn gemm_float_tile_avx2(TensorType weight_type);    // STRATA_KERNELS_X86 only
GemmTileFn gemm_float_tile_avx512(TensorType weight_type);  // STRATA_KERNELS_X86 only
GemmTileFn gemm_float_tile_pair_avx512(TensorType weight_type);  // STRATA_KERNELS_X86 only: 16 rows a pass
// BF16 on CPUs with AVX512_BF16: packers and tile of their own layout (gemm_bf16_dot.cpp).
GemmKernels gemm_bf16_dot_kernels();  // STRATA_KERNELS_X86 only

}  // namespace strata::cpu::detail
