// Software prefetch for decode's multi-row kernels (TypeKernels::vec_dot_rows).
//
// Decode streams every weight row once, four rows at a time, block by block. This machine's
// hardware prefetcher does little for that (without software prefetch a Q4_K kernel read 6.5-7.7
// GB/s from DRAM per thread, with it 9-11), so while a block of rows r0..r0+3 is multiplied the
// kernels ask for the same bytes of later rows, at two distances:
// - into L1, at least kNearBytes ahead, where the data is needed soon;
// - into L2, at least kFarBytes ahead, so that more lines are in flight than L1's fill buffers
//   allow.
// Distances are whole steps of `rows` rows, so the prefetched bytes are the ones the same block
// of a later step will read: 4 for kernels that take four adjacent rows per step, 1 for those
// that take one row from each quarter of a call (row_quarters.h). With 1152-byte rows (2048 Q4_K or Q4_0 values) the first distance
// used to be one group (4.6 KiB ahead), too close for DRAM's latency under load: the two
// distances below measured 10.8-11.1 GB/s per thread against 9.1-9.8 (single-thread microbenchmark
// over 1 GiB of huge pages); 8192-value rows, 18 KiB per group, were already far enough.
// Prefetches never fault, so reading past the matrix's end is harmless.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace strata::cpu::detail {

class RowPrefetch {
 public:
  static constexpr uint64_t kNearBytes = 8192, kFarBytes = 16384;

  // Rows `stride` bytes apart, a step moving on by `rows` rows; the distances are at least
  // `near_bytes` and `far_bytes` (kernels reading four places at once, row_quarters.h, use less).
  RowPrefetch(uint64_t stride, int rows, uint64_t near_bytes = kNearBytes, uint64_t far_bytes = kFarBytes)
      : near_(ahead(stride * rows, near_bytes)), far_(ahead(stride * rows, far_bytes)) {}

  // The `bytes` at p, `near` and `far` ahead.
  void operator()(const void* p, size_t bytes) const {
    const char* c = static_cast<const char*>(p);
    for (size_t off = 0; off < bytes; off += 64) {
      _mm_prefetch(c + near_ + off, _MM_HINT_T0);
      _mm_prefetch(c + far_ + off, _MM_HINT_T2);
    }
  }

 private:
  // The smallest whole number (at least 1) of `group` bytes that reaches `bytes`.
  static uint64_t ahead(uint64_t group, uint64_t bytes) { return std::max<uint64_t>(1, (bytes + group - 1) / group) * group; }

  uint64_t near_, far_;
};

}  // namespace strata::cpu::detail
