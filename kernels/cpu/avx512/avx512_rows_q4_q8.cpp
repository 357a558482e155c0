// AVX-512 VNNI multi-row dot products (vec_dot_rows) of Q8_0 weights with Q8_0 activations: the
// decode matrix-vector product, four weight rows against one activation row.
//
// Why not vec_dot per row: a 32-element block holds only one vpdpbusd of work, and the single-row
// kernel spends more on each block's float scale (two fp16 conversions, a multiply, a broadcast)
// and on the sign trick than on the dot itself, so Q4_0 decode was bound by instructions, not by
// memory. The shared loop (avx2/rows_q8_0_impl.h) runs here with vpdpbusd; Q4_0 has its own
// 512-bit loop (avx512_rows_q4_0.cpp).
#include <cassert>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/avx2/rows_q8_0_impl.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"

namespace strata::cpu::detail {
namespace {

inline __m256i load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

void q8_0_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK8_0 == 0);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  rows_with_q8_0<DotVnni, 0x80, BlockQ8_0>(n, w, stride, x, out, rows,
                                           [&](const BlockQ8_0& b) { return _mm256_xor_si256(load256(b.qs), flip); });
}

}  // namespace

void add_avx512_rows_q4_q8(KernelTable& t) {
  add_avx512_rows_q4_0(t);
  slot(t, TensorType::Q8_0).vec_dot_rows = q8_0_vec_dot_rows;
}

}  // namespace strata::cpu::detail
