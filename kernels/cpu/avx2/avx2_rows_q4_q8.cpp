// AVX2 multi-row dot products (vec_dot_rows) of Q4_0 and Q8_0 weights with Q8_0 activations, for
// decode on CPUs without AVX-512: the shared loop of rows_q8_0_impl.h with AVX2's integer dot.
//
// Without VNNI the u8 x i8 step is vpmaddubsw (pairs into int16) then vpmaddwd with ones. Its
// int16 pair sum is exact for Q4_0's unsigned nibbles (2 * 15 * 127) but not for Q8_0 made
// unsigned (2 * 255 * 127 overflows), so Q8_0 keeps its signed weights and the sign trick.
#include <cassert>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/avx2/rows_q8_0_impl.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"

namespace strata::cpu::detail {
namespace {

// Unsigned w (at most 15 here) times signed x.
struct DotMaddubs {
  static __m256i add(__m256i sum, __m256i w, __m256i x) {
    return _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1)));
  }
};

// Signed w times signed x: |w| times x with w's sign (dot_i8).
struct DotSigned {
  static __m256i add(__m256i sum, __m256i w, __m256i x) { return _mm256_add_epi32(sum, dot_i8(w, x)); }
};

void q4_0_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK4_0 == 0);
  rows_with_q8_0<DotMaddubs, 8, BlockQ4_0>(n, w, stride, x, out, rows,
                                           [](const BlockQ4_0& b) { return unpack_nibbles_32(b.qs); });
}

void q8_0_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK8_0 == 0);
  rows_with_q8_0<DotSigned, 0, BlockQ8_0>(n, w, stride, x, out, rows, [](const BlockQ8_0& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  });
}

void q4_0_vec_dot_streams(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4],
                          int64_t steps) {
  assert(n % kQK4_0 == 0);
  streams_with_q8_0<DotMaddubs, 8, BlockQ4_0>(n, row_streams(w, stride, out, steps), x,
                                              [](const BlockQ4_0& b) { return unpack_nibbles_32(b.qs); });
}

void q8_0_vec_dot_streams(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4],
                          int64_t steps) {
  assert(n % kQK8_0 == 0);
  streams_with_q8_0<DotSigned, 0, BlockQ8_0>(n, row_streams(w, stride, out, steps), x, [](const BlockQ8_0& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  });
}

}  // namespace

void add_avx2_rows_q4_q8(KernelTable& t) {
  slot(t, TensorType::Q4_0).vec_dot_rows = q4_0_vec_dot_rows;
  slot(t, TensorType::Q8_0).vec_dot_rows = q8_0_vec_dot_rows;
  slot(t, TensorType::Q4_0).vec_dot_streams = q4_0_vec_dot_streams;
  slot(t, TensorType::Q8_0).vec_dot_streams = q8_0_vec_dot_streams;
}

}  // namespace strata::cpu::detail
