// AVX-512 BF16 dot product (needs avx512_bf16). F32 and F16 keep their AVX2 variants: 512-bit
// versions measured no faster (the loop is load-bound and 512-bit ops have fewer ports), and the
// conversions are AVX2's as well.
#include <cassert>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernel_table.h"

namespace strata::cpu::detail {
namespace {

// vdpbf16ps multiplies pairs of bfloat16 (exact in float) and adds both products to a float lane,
// rounding to nearest even with denormals flushed: 32 elements per instruction.
float bf16_vec_dot(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  auto load = [](const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); };  // reinterpret the bits
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_dpbf16_ps(acc0, load(a + i), load(b + i));
    acc1 = _mm512_dpbf16_ps(acc1, load(a + i + 32), load(b + i + 32));
  }
  for (; i + 32 <= n; i += 32) acc0 = _mm512_dpbf16_ps(acc0, load(a + i), load(b + i));
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += bf16_to_fp32(a[i]) * bf16_to_fp32(b[i]);
  return sum;
}

}  // namespace

void add_avx512_float(KernelTable& t, bool bf16) {
  if (bf16) slot(t, TensorType::BF16).vec_dot = bf16_vec_dot;
}

}  // namespace strata::cpu::detail
