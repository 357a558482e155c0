// The order in which decode's multi-row kernels (TypeKernels::vec_dot_rows) take a call's rows.
//
// The kernels multiply four rows at a time. They take one row from each quarter of the call's
// rows rather than four neighbours, so the core reads four places far apart: the L2 hardware
// prefetcher, which follows each stream within its 4 KiB page, then runs four streams ahead
// instead of one. Rows left over when the count is not a multiple of four come last, and go one
// by one. A plain read shows the gain: one thread read 11.3 GB/s from DRAM in one stream and
// 12.9 GB/s in four (Intel Xeon VM). The Q4_0 kernel over 1 MiB calls with 2 threads
// (microbenchmark over 1 GiB of huge pages, mean of 5 runs): 20.1 -> 22.2 GB/s for 2048-wide
// rows, 21.7 -> 22.1 for 8192.
//
// Q4_0, Q8_0 (rows_q8_0_impl.h, avx512_rows_q4_0.cpp, avx512_rows_q8_0.cpp), AVX-512 Q4_K and the
// float types take their rows so: tg128 +3% (Q4_0) and +1-10% (Q8_0) in A/B runs alternating with
// adjacent rows, 2 threads; Q4_K faster in 5 of 6 pairs. Q6_K, and Q4_K at the AVX2 level, keep
// adjacent rows: AVX-512 Q6_K by quarters streamed slower on the Zen 5 VM (2 threads, 512 MiB,
// 2048-wide rows 43 -> 37-38 GB/s, 8192-wide 56 -> 40); its kernel is bound by instructions
// (35 GB/s on one core with rows in L2), and the hardware prefetcher follows one stream better.
//
// Decode's shares (engine/decode/matmul.cpp) are four streams each for a whole matrix product,
// and a call takes the next rows of all four (vec_dot_streams): the streams then run on from call
// to call instead of starting four new ones at every call.
//
// Prefetch (quarter_prefetch): a quarter's rows are contiguous, so each quarter is one stream and
// its distances are plain bytes ahead in it (in the same row or the next of the quarter). Four
// streams share the core's fill buffers and L1, so the distances are shorter than for adjacent
// rows: on AMD 2 KiB into L1 (row_prefetch.h has the profiles and their figures).
#pragma once

#include <cstdint>

#include "kernels/cpu/row_prefetch.h"

namespace strata::cpu::detail {

// Four runs of rows read side by side, one row of each per step: run q's row i starts at
// w[q] + i * stride and its result goes to out[q][i]. A call's quarters (below) are four such
// runs; so are the four streams decode keeps over a thread's share (TypeKernels::vec_dot_streams).
struct RowStreams {
  const uint8_t* w[4];
  float* out[4];
  uint64_t stride;
  int64_t steps;  // rows per run

  const uint8_t* row(int64_t i, int q) const { return w[q] + static_cast<uint64_t>(i) * stride; }
  float* result(int64_t i, int q) const { return out[q] + i; }
};

inline RowStreams row_streams(const void* const w[4], uint64_t stride, float* const out[4], int64_t steps) {
  RowStreams s{};
  for (int q = 0; q < 4; ++q) {
    s.w[q] = static_cast<const uint8_t*>(w[q]);
    s.out[q] = out[q];
  }
  s.stride = stride;
  s.steps = steps;
  return s;
}

// The first 4 * (rows / 4) rows of a call by quarters: run q is rows [q * s, (q + 1) * s), s = rows / 4.
// The rows from quarters_end(rows) on (fewer than four) are left to the caller.
inline RowStreams row_quarters(const void* w, uint64_t stride, float* out, int64_t rows) {
  RowStreams s{};
  const int64_t steps = rows / 4;
  for (int q = 0; q < 4; ++q) {
    s.w[q] = static_cast<const uint8_t*>(w) + static_cast<uint64_t>(q * steps) * stride;
    s.out[q] = out + q * steps;
  }
  s.stride = stride;
  s.steps = steps;
  return s;
}
inline int64_t quarters_end(int64_t rows) { return rows / 4 * 4; }

// Software prefetch for a kernel that takes its rows by RowQuarters (see above).
inline RowPrefetch quarter_prefetch() { return RowPrefetch::in_stream(prefetch_profile().quarters); }

}  // namespace strata::cpu::detail
