// AVX-512 VNNI multi-row dot products (vec_dot_rows) of Q8_0 weights with Q8_0 activations: the
// decode matrix-vector product, four weight rows against one activation row.
//
// The shared 256-bit loop (avx2/rows_q8_0_impl.h) spends five instructions on each block of each
// row and gathers the fp16 scales with vpgatherdd, which is slow on AMD: with rows in L2 it
// computed ~33 GB/s on one Zen 5 core, about half of what two cores read from DRAM, so it could
// not hide the memory's latency. This loop takes a group of eight blocks (272 bytes) of each of
// its four rows at a time:
// - two blocks per 512-bit product: the two blocks' 32 weight bytes side by side, made unsigned
//   (q xor 0x80 = q + 128), one vpdpbusd against the activation's pair, started at
//   -128 * (the activation's sums of four), which takes the 128 back;
// - the eight fp16 weight scales without a gather (q8_0_group_scales.h);
// - the activation's side (its pairs and scales as floats) is the same for every row, so each
//   call prepares it once for all its rows (the starts once per group for four rows: below);
// - the scales of the four rows come first, then the pairs row by row: the first loads of the
//   group touch all four rows, so the core asks for the four streams' lines early. Against each
//   row's scales and pairs in turn: 54 -> 63 GB/s with rows in L2, 58 -> 64 from DRAM (2 threads).
// Kernel alone, one thread, rows in L2: ~33 -> ~63 GB/s (2048-wide rows) and ~65 (8192-wide).
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
constexpr int kPairs = kGroupBlocks / 2;
constexpr int kBlockBytes = sizeof(BlockQ8_0);  // 34: the fp16 scale, then 32 bytes

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// The 64 bytes of blocks b and b + 1 of a row (b at p), side by side.
inline __m512i pair_bytes(const BlockQ8_0* p) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(load256(p[0].qs)), load256(p[1].qs), 1);
}

// One group of the activation, ready for the weights' pair products. Each pair's sums start at
// -128 * (the activation's sums of four), which takes back the weights' offset; four_rows
// computes those starts, once per group for its four rows, rather than keeping them here. The
// prepared row is read again for every four rows, and for the 8192-wide rows of the FFN's down
// matrix it shrinks from 18 KiB to 10 KiB of L1 beside the 35 KiB of weights four rows stream
// through. Kernel alone, one thread, rows in L2: 45 -> 60 GB/s (8192-wide rows), 55 -> 65
// (2048-wide); tg128 of the 1B Q8_0 model, 2 threads, the two kernels alternating token by
// token in one run (1792 tokens each, twice): +0.8% and +1.6%, against +0.4% and +0.5% between
// two equal halves of the same runs on the Q4_0 model.
struct alignas(64) PreparedGroup {
  __m512i pairs[kPairs];  // blocks 2h and 2h + 1 side by side
  __m256 scales;          // the eight blocks' activation scales
};

void prepare(const BlockQ8_0* y, int64_t groups, PreparedGroup* out) {
  for (int64_t g = 0; g < groups; ++g) {
    PreparedGroup& p = out[g];
    const BlockQ8_0* group = y + g * kGroupBlocks;
    p.scales = q8_0_group_scales(reinterpret_cast<const uint8_t*>(group));
    for (int h = 0; h < kPairs; ++h) p.pairs[h] = pair_bytes(group + 2 * h);
  }
}

// Four rows (a[r], `groups` groups each, one from each quarter of the call: row_quarters.h)
// against the prepared activation; their sums go to *out[r].
void four_rows(int64_t groups, const BlockQ8_0* const* a, const PreparedGroup* x, float* const* out) {
  const __m512i offset = _mm512_set1_epi8(static_cast<char>(0x80));
  // Which of the eight scales each lane of pair h takes: 2h for lanes 0-7, 2h + 1 for 8-15.
  const __m512i lane_scale[kPairs] = {_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                      _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3),
                                      _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5),
                                      _mm512_setr_epi32(6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7)};
  const RowPrefetch prefetch = quarter_prefetch();
  __m512 acc[kRows];
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    const PreparedGroup& p = x[g];
    const BlockQ8_0* w[kRows];
    __m512 scale[kRows];
    for (int r = 0; r < kRows; ++r) {
      w[r] = a[r] + g * kGroupBlocks;
      prefetch(w[r], kGroupBlocks * kBlockBytes);
      scale[r] = _mm512_castps256_ps512(_mm256_mul_ps(q8_0_group_scales(reinterpret_cast<const uint8_t*>(w[r])), p.scales));
    }
    for (int h = 0; h < kPairs; ++h) {
      // -128 * (the activation's sums of four): 0x80 . x, negated.
      const __m512i start =
          _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), offset, p.pairs[h]));
      for (int r = 0; r < kRows; ++r) {
        const __m512i q = _mm512_xor_si512(pair_bytes(w[r] + 2 * h), offset);
        const __m512i sum = _mm512_dpbusd_epi32(start, q, p.pairs[h]);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_permutexvar_ps(lane_scale[h], scale[r]), acc[r]);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) *out[r] = _mm512_reduce_add_ps(acc[r]);
}

// A block's 32 weights as bytes q + 0x80, for the shared loop (rows_q8_0_impl.h).
const auto unpack = [](const BlockQ8_0& b) { return _mm256_xor_si256(load256(b.qs), _mm256_set1_epi8(static_cast<char>(0x80))); };

// Four runs of rows: the prepared loop when a row is whole groups of eight blocks (every row
// shape of the models), else the shared loop.
void q8_0_streams(int64_t n, const RowStreams& streams, const void* x) {
  const int64_t nb = n / kQK8_0;
  if (nb % kGroupBlocks == 0)
    return rows_with_prepared_activation<PreparedGroup, BlockQ8_0>(nb / kGroupBlocks, streams, x, prepare, four_rows);
  streams_with_q8_0<DotVnni, 0x80, BlockQ8_0>(n, streams, x, unpack);
}

void q8_0_vec_dot_rows(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) {
  assert(n % kQK8_0 == 0);
  q8_0_streams(n, row_quarters(w, stride, out, rows), x);
  const int64_t r0 = quarters_end(rows);  // the fewer than four left, one at a time
  rows_with_q8_0<DotVnni, 0x80, BlockQ8_0>(n, static_cast<const uint8_t*>(w) + r0 * stride, stride, x, out + r0,
                                         rows - r0, unpack);
}

void q8_0_vec_dot_streams(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4],
                          int64_t steps) {
  assert(n % kQK8_0 == 0);
  q8_0_streams(n, row_streams(w, stride, out, steps), x);
}

}  // namespace

void add_avx512_rows_q8_0(KernelTable& t) {
  slot(t, TensorType::Q8_0).vec_dot_rows = q8_0_vec_dot_rows;
  slot(t, TensorType::Q8_0).vec_dot_streams = q8_0_vec_dot_streams;
}

}  // namespace strata::cpu::detail
