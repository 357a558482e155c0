// Internal to kernels/cpu: the per-level tables of TypeKernels and the functions that fill them.
// Each level starts as a copy of the level below and overrides the entries it accelerates.
#pragma once

#include <array>
#include <cstdint>

#include "kernels/cpu/kernels.h"

namespace strata::cpu::detail {

inline constexpr uint32_t kTypeSlots = 31;  // every TensorType id is below this
using KernelTable = std::array<TypeKernels, kTypeSlots>;

static inline TypeKernels& slot(KernelTable& t, TensorType type) { return t[static_cast<uint32_t>(type)]; }

// reference/: every type with kernels.
void add_reference_float(KernelTable& t);     // F32, F16, BF16
void add_reference_q4_q5_q8(KernelTable& t);  // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1
void add_reference_kquants(KernelTable& t);   // Q4_K, Q5_K, Q6_K, Q8_K

// avx2/: needs avx2 + fma + f16c. Only defined on x86 builds (STRATA_KERNELS_X86).
void add_avx2_float(KernelTable& t);
void add_avx2_q4_q5_q8(KernelTable& t);
void add_avx2_kquants(KernelTable& t);
void add_avx2_rows_q4_q8(KernelTable& t);  // vec_dot_rows of Q4_0, Q8_0
void add_avx2_rows_float(KernelTable& t);  // vec_dot_rows of F32, F16, BF16

// avx512/: needs avx512 f + bw + vl + vnni; `bf16` says whether avx512_bf16 is there too.
void add_avx512_float(KernelTable& t, bool bf16);
void add_avx512_q4_q5_q8(KernelTable& t);
void add_avx512_kquants(KernelTable& t);
void add_avx512_rows_q4_0(KernelTable& t);  // vec_dot_rows of Q4_0
void add_avx512_rows_q8_0(KernelTable& t);  // vec_dot_rows of Q8_0
void add_avx512_rows_float(KernelTable& t, bool bf16);  // vec_dot_rows of F32, F16, BF16

}  // namespace strata::cpu::detail
