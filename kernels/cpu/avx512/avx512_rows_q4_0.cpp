// AVX-512 VNNI multi-row dot products (vec_dot_rows) of Q4_0 weights with Q8_0 activations: the
// decode matrix-vector product, four weight rows against one activation row.
//
// Q4_0 is the type where decode is bound by instructions the most (a block is 18 bytes: the least
// data per instruction of any type), so its loop is its own. A group is eight blocks of a row.
// - Four blocks per 512-bit product: one two-source word permute (vpermt2w) picks the 16 nibble
//   bytes of blocks b..b + 3 out of the group's bytes (blocks are 18 bytes apart and their nibbles
//   start at even offsets); a mask and a shift split them into low and high nibbles, and two
//   vpdpbusd against the activation's low and high halves leave each block's sum in four int32
//   lanes, converted and scaled with one multiply-add. Taking two blocks per product, as the loop
//   did before, was nearly twice the instructions per byte.
// - The activation's side of that (its halves arranged block by block, -8 * their sums, the fp16
//   scales as floats, without a gather: q8_0_group_scales.h) is the same for every row, so each
//   call prepares it once for all its rows instead of once per four rows: that work was ~15% of
//   the loop.
// Kernel alone, one thread, rows in L2: ~19 GB/s (two blocks per product) -> ~24 GB/s.
#include <cassert>

#include "kernels/cpu/avx2/avx2_util.h"
#include "kernels/cpu/avx2/rows_q8_0_impl.h"
#include "kernels/cpu/avx512/prepared_rows.h"
#include "kernels/cpu/avx512/q8_0_group_scales.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/row_quarters.h"

namespace strata::cpu::detail {
namespace {

constexpr int kRows = kDecodeRows;
constexpr int kGroupBlocks = 8;

// Word indices into the 64-word table of two 64-byte loads, [first | second].
struct Q4_0GroupLayout {
  // Blocks 0-3 of a group from [g, g + 64) and [g + 64, g + 128): block k's nibbles start at byte
  // 18k + 2, word 9k + 1.
  alignas(64) static constexpr uint16_t kBlocks0to3[32] = {1,  2,  3,  4,  5,  6,  7,  8,  10, 11, 12,
                                                           13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24,
                                                           25, 26, 28, 29, 30, 31, 32, 33, 34, 35};
  // Blocks 4-7 from [g + 64, g + 128) and [g + 80, g + 144), so that no load leaves the group:
  // bytes 74, 92 and 110 are words 5, 14 and 23 of the first, byte 128 is word 24 of the second.
  alignas(64) static constexpr uint16_t kBlocks4to7[32] = {5,  6,  7,  8,  9,  10, 11, 12, 14, 15, 16,
                                                           17, 18, 19, 20, 21, 23, 24, 25, 26, 27, 28,
                                                           29, 30, 56, 57, 58, 59, 60, 61, 62, 63};
  // Words 0, 9, 18, ..., 63 of [g, g + 128): the eight blocks' fp16 scales.
  alignas(64) static constexpr uint16_t kScales[32] = {0, 9, 18, 27, 36, 45, 54, 63};
  // Activation (Q8_0) block k of four starts at byte 34k: its values 0-15 at byte 34k + 2 (word
  // 17k + 1 of [y, y + 128)), its values 16-31 at byte 34k + 18 (word 17k + 5 of [y + 8, y + 136)).
  alignas(64) static constexpr uint16_t kActLow[32] = {1,  2,  3,  4,  5,  6,  7,  8,  18, 19, 20,
                                                       21, 22, 23, 24, 25, 35, 36, 37, 38, 39, 40,
                                                       41, 42, 52, 53, 54, 55, 56, 57, 58, 59};
  alignas(64) static constexpr uint16_t kActHigh[32] = {5,  6,  7,  8,  9,  10, 11, 12, 22, 23, 24,
                                                        25, 26, 27, 28, 29, 39, 40, 41, 42, 43, 44,
                                                        45, 46, 56, 57, 58, 59, 60, 61, 62, 63};
};

inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
inline __m512i table(const uint16_t (&words)[32]) { return _mm512_load_si512(words); }

// One group of the activation, ready for the weights' four-block products: for each half h
// (blocks 4h..4h + 3), the values 0-15 and 16-31 of its blocks, and the start of the sums,
// -8 * (sum of the four values each lane multiplies), which turns the nibbles' q + 8 back into q.
// (The Q8_0 kernel computes its starts per group instead, for a smaller prepared row; here that
// was 5% slower in tg128, alternating token by token: this loop has more work per byte.)
struct alignas(64) PreparedGroup {
  __m512i low[2], high[2], start[2];
  __m256 scales;  // the eight blocks' activation scales
};

void prepare(const BlockQ8_0* y, int64_t groups, PreparedGroup* out) {
  using L = Q4_0GroupLayout;
  const __m512i act_low = table(L::kActLow), act_high = table(L::kActHigh), eight = _mm512_set1_epi8(8);
  for (int64_t g = 0; g < groups; ++g) {
    PreparedGroup& p = out[g];
    p.scales = q8_0_group_scales(reinterpret_cast<const uint8_t*>(y + g * kGroupBlocks));
    for (int h = 0; h < 2; ++h) {
      const uint8_t* yh = reinterpret_cast<const uint8_t*>(y + g * kGroupBlocks + 4 * h);
      p.low[h] = _mm512_permutex2var_epi16(load512(yh), act_low, load512(yh + 64));
      p.high[h] = _mm512_permutex2var_epi16(load512(yh + 8), act_high, load512(yh + 72));
      const __m512i sum8 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, p.low[h]), eight,
                                               p.high[h]);
      p.start[h] = _mm512_sub_epi32(_mm512_setzero_si512(), sum8);
    }
  }
}

// Four rows (a[r], `groups` groups each, one from each quarter of the call: row_quarters.h)
// against the prepared activation; their sums go to *out[r].
void four_rows(int64_t groups, const BlockQ4_0* const* a, const PreparedGroup* x, float* const* out) {
  using L = Q4_0GroupLayout;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i blocks0to3 = table(L::kBlocks0to3), blocks4to7 = table(L::kBlocks4to7), scales = table(L::kScales);
  // Which of the eight scales each lane of a four-block product takes.
  const __m512i lane_scale[2] = {_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                 _mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7)};
  const RowPrefetch prefetch = quarter_prefetch();
  __m512 acc[kRows];
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    const PreparedGroup& p = x[g];
    for (int r = 0; r < kRows; ++r) {
      const uint8_t* w = reinterpret_cast<const uint8_t*>(a[r] + g * kGroupBlocks);
      const __m512i w0 = load512(w), w64 = load512(w + 64), w80 = load512(w + 80);
      prefetch(w, kGroupBlocks * sizeof(BlockQ4_0));
      const __m512i scale_bits = _mm512_permutex2var_epi16(w0, scales, w64);
      const __m256 scale8 = _mm256_mul_ps(_mm256_cvtph_ps(_mm512_castsi512_si128(scale_bits)), p.scales);
      const __m512 scale = _mm512_castps256_ps512(scale8);
      const __m512i nibbles[2] = {_mm512_permutex2var_epi16(w0, blocks0to3, w64),
                                  _mm512_permutex2var_epi16(w64, blocks4to7, w80)};
      for (int h = 0; h < 2; ++h) {
        const __m512i low = _mm512_and_si512(nibbles[h], low4);
        const __m512i high = _mm512_and_si512(_mm512_srli_epi16(nibbles[h], 4), low4);
        const __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(p.start[h], low, p.low[h]), high, p.high[h]);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_permutexvar_ps(lane_scale[h], scale), acc[r]);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) *out[r] = _mm512_reduce_add_ps(acc[r]);
}

// A block's 32 weights as bytes q + 8, for the shared loop (rows_q8_0_impl.h).
const auto unpack = [](const BlockQ4_0& b) { return unpack_nibbles_32(b.qs); };

// Four runs of rows: the prepared loop when a row is whole groups of eight blocks (every row
// shape of the models), else the shared loop.
void q4_0_streams(int64_t n, const RowStreams& streams, const void* x) {
  const int64_t nb = n / kQK4_0;
  if (nb % kGroupBlocks == 0)
    return rows_with_prepared_activation<PreparedGroup, BlockQ4_0>(nb / kGroupBlocks, streams, x, prepare, four_rows);
  streams_with_q8_0<DotVnni, 8, BlockQ4_0>(n, streams, x, unpack);
}

void q4_0_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK4_0 == 0);
  q4_0_streams(n, row_quarters(w, stride, out, rows), x);
  const int64_t r0 = quarters_end(rows);  // the fewer than four left, one at a time
  rows_with_q8_0<DotVnni, 8, BlockQ4_0>(n, static_cast<const uint8_t*>(w) + r0 * stride, stride, x, out + r0,
                                         rows - r0, unpack);
}

void q4_0_vec_dot_streams(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4],
                          int64_t steps) {
  assert(n % kQK4_0 == 0);
  q4_0_streams(n, row_streams(w, stride, out, steps), x);
}

}  // namespace

void add_avx512_rows_q4_0(KernelTable& t) {
  slot(t, TensorType::Q4_0).vec_dot_rows = q4_0_vec_dot_rows;
  slot(t, TensorType::Q4_0).vec_dot_streams = q4_0_vec_dot_streams;
}

}  // namespace strata::cpu::detail
