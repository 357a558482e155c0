// Internal to kernels/cpu/ops: the variants of the operations in ops.h that ops.cpp chooses from
// at run time (the AVX2 ones exist only on x86 builds, STRATA_KERNELS_X86).
#pragma once

#include <cstdint>

namespace strata::cpu::detail {

void silu_mul_scalar(float* gate, const float* up, int64_t n);
void silu_mul_avx2(float* gate, const float* up, int64_t n);

}  // namespace strata::cpu::detail
