// The outer loop of the AVX-512 decode kernels that prepare their activation once per call (Q4_0:
// avx512_rows_q4_0.cpp, Q8_0: avx512_rows_q8_0.cpp): the Q8_0 activation is arranged group by
// group into a per-thread buffer, then the rows go four at a time, one from each of four runs
// (row_quarters.h), through the kernel's four-row loop. Include only from files compiled
// with AVX-512 flags.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/row_quarters.h"

namespace strata::cpu::detail {

// The rows of four runs (row_quarters.h: a call's quarters, or decode's streams) of Block
// (`groups` groups each) against the activation x:
//   prepare(const BlockQ8_0* x, int64_t groups, Prepared* out);
//   four_rows(int64_t groups, const Block* const rows[4], const Prepared* x, float* const out[4]);
template <typename Prepared, typename Block, typename Prepare, typename FourRows>
static inline void rows_with_prepared_activation(int64_t groups, const RowStreams& streams, const void* x,
                                                 Prepare prepare, FourRows four_rows) {
  if (streams.steps == 0) return;  // (a call of fewer than four rows: nothing for this loop)
  thread_local std::vector<Prepared> prepared;
  if (prepared.size() < static_cast<size_t>(groups)) prepared.resize(static_cast<size_t>(groups));
  prepare(static_cast<const BlockQ8_0*>(x), groups, prepared.data());
  constexpr int kRows = 4;
  for (int64_t step = 0; step < streams.steps; ++step) {
    const Block* a[kRows];
    float* sums[kRows];
    for (int r = 0; r < kRows; ++r) {
      a[r] = reinterpret_cast<const Block*>(streams.row(step, r));
      sums[r] = streams.result(step, r);
    }
    four_rows(groups, a, prepared.data(), sums);
  }
}

}  // namespace strata::cpu::detail
