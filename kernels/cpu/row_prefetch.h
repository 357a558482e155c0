// Software prefetch for decode's multi-row kernels (TypeKernels::vec_dot_rows).
//
// Decode streams every weight row once, four rows at a time, block by block. While a block of
// rows is multiplied the kernels ask for bytes they will read later, at up to two distances:
// - into L1, `near` bytes ahead, where the data is needed soon;
// - into L2, `far` bytes ahead, so that more lines are in flight than L1's fill buffers allow
//   (far 0: none).
// What "ahead" means depends on how a kernel takes its rows:
// - four adjacent rows per step: the distances are rounded up to whole steps of four rows, so the
//   prefetched bytes are the ones the same block of a later step will read (the bytes just past a
//   row belong to its neighbour, which the same step is reading already);
// - one row from each quarter of a call (row_quarters.h): each quarter's rows are one contiguous
//   stream, so the bytes `near` past the current ones are read later by the same stream, in the
//   same row or in the next one of the quarter; the distances are plain byte counts.
//
// The distances that pay differ between CPUs, so they come from a profile chosen once from the
// CPU's vendor (prefetch_profile(), kernels.cpp):
// - Intel (the Xeon VM of the earlier measurements): its hardware prefetcher does little for rows
//   of a few KiB (a Q4_K kernel without software prefetch read 6.5-7.7 GB/s per thread from DRAM,
//   with one group of rows ahead 9-10, with both distances 11): adjacent rows 8 KiB / 16 KiB,
//   quarters 4 KiB / 8 KiB (measured as whole rows of the quarter; row_quarters.h).
// - AMD (the Zen 5 EPYC VM, two threads reading 50-75 GB/s): the L2 prefetch costs more than it
//   brings, its hardware prefetchers keep the streams going. Kernels over 1 GiB, 2 threads,
//   median of 5 interleaved runs: without the L2 prefetch Q4_0 45 -> 65 GB/s (2048-wide rows) and
//   43 -> 66 (8192-wide), Q8_0 46 -> 60 and 46 -> 51, Q4_K 45 -> 66 and 41 -> 46-48, Q6_K (adjacent
//   rows) 46 -> 47 and 48 -> 53. Into L1 the quarters take 2 KiB ahead: the next row of the quarter,
//   as before, put four whole rows in flight, which for 8192-wide rows (up to 17 KiB each) is more
//   than L1 holds. Kernels over 512 MiB, 2 threads, median of 3 alternating runs, next row -> 2 KiB
//   (1, 3 and 4 KiB were slower or level): Q8_0 70.7 -> 70.8 GB/s (2048-wide) and 53.6 -> 65.4
//   (8192-wide), Q4_0 68.2 -> 75.8 and 67.4 -> 71.9, Q4_K 67.6 -> 67.2 and 62.1 -> 70.8, F16
//   59.5 -> 62.0 and 53.7 -> 64.1, BF16 56.9 -> 65.0 and 60.7 -> 65.1.
// Prefetches never fault, so reading past the matrix's end is harmless.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace strata::cpu::detail {

// How far ahead to prefetch, in bytes; far 0: no L2 prefetch.
struct PrefetchDistances {
  uint64_t near, far;
};

struct PrefetchProfile {
  const char* name;            // "intel" or "amd": for benchmarks' records
  PrefetchDistances adjacent;  // kernels that take four adjacent rows per step (rounded to steps)
  PrefetchDistances quarters;  // kernels that take their rows by quarters (row_quarters.h), in bytes
};

// The profile of this CPU, chosen once (kernels.cpp).
const PrefetchProfile& prefetch_profile();

class RowPrefetch {
 public:
  // Rows `stride` bytes apart, a step moving on by `rows` rows: the distances rounded up to whole
  // steps.
  RowPrefetch(uint64_t stride, int rows, PrefetchDistances d = prefetch_profile().adjacent)
      : near_(ahead(stride * rows, d.near)), far_(d.far != 0 ? ahead(stride * rows, d.far) : 0) {}

  // One contiguous stream: the distances as they are, in whole cache lines.
  static RowPrefetch in_stream(PrefetchDistances d) { return RowPrefetch(64, 1, d); }

  // The `bytes` at p, `near` and `far` ahead.
  void operator()(const void* p, size_t bytes) const {
    const char* c = static_cast<const char*>(p);
    for (size_t off = 0; off < bytes; off += 64) {
      _mm_prefetch(c + near_ + off, _MM_HINT_T0);
      if (far_ != 0) _mm_prefetch(c + far_ + off, _MM_HINT_T2);
    }
  }

 private:
  // The smallest whole number (at least 1) of `group` bytes that reaches `bytes`.
  static uint64_t ahead(uint64_t group, uint64_t bytes) {
    return std::max<uint64_t>(1, (bytes + group - 1) / group) * group;
  }

  uint64_t near_, far_;
};

}  // namespace strata::cpu::detail
