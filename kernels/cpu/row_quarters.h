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
// Prefetch (quarter_prefetch): a quarter's rows are contiguous, so each quarter is one stream and
// its distances are plain bytes ahead in it (in the same row or the next of the quarter). Four
// streams share the core's fill buffers and L1, so the distances are shorter than for adjacent
// rows: on AMD 2 KiB into L1 (row_prefetch.h has the profiles and their figures).
#pragma once

#include <cstdint>

#include "kernels/cpu/row_prefetch.h"

namespace strata::cpu::detail {

struct RowQuarters {
  explicit RowQuarters(int64_t rows) : steps(rows / 4) {}

  // The row of quarter q (0..3) at step i (0..steps - 1).
  int64_t row(int64_t i, int q) const { return q * steps + i; }
  // The first of the rows left over, after the four quarters.
  int64_t rest() const { return 4 * steps; }

  int64_t steps;  // rows per quarter
};

// Software prefetch for a kernel that takes its rows by RowQuarters (see above).
inline RowPrefetch quarter_prefetch() { return RowPrefetch::in_stream(prefetch_profile().quarters); }

}  // namespace strata::cpu::detail
