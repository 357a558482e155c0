// The decode multi-row loop (TypeKernels::vec_dot_rows) of the float weight types, F32, F16 and
// BF16, shared by the AVX2 and AVX-512 files and parameterized by `Step`, which multiplies
// Step::kElems weights of one row with as many activation values and adds them into one vector:
//   using W;  (the weight element: float or uint16_t)   using X;  (the activation element)
//   using V;  static V zero();  static V add(V, V);  static float sum(V);
//   static V dot(V acc, const W* w, const X* x);
//   static float scalar_w(W);  static float scalar_x(X);   (the ragged tail, one by one)
// Include only from files compiled with AVX2 (or wider) flags; everything is static inline.
//
// A float row is two or four bytes a weight, so decode is bound by memory even more than for the
// quantized types, and the loop is the same as theirs: four rows per pass, one from each quarter
// of the call (row_quarters.h) with the quarters' prefetch, sharing the activation's loads. Rows
// left over after the quarters go one by one through the same loop. Results equal the reference
// (which sums in double) up to float summation order: a product of two fp16 or two bf16 values
// is exact in float.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu/row_prefetch.h"
#include "kernels/cpu/row_quarters.h"

namespace strata::cpu::detail {

// The activation row of n 16-bit floats at x widened to floats, once per call, into a buffer each
// thread keeps: widen_store(dst, src) widens kWidth values, scalar(v) one.
template <int kWidth, class WidenStore, class Scalar>
static inline const float* widened_activation(int64_t n, const void* x, WidenStore widen_store, Scalar scalar) {
  thread_local std::vector<float> buf;
  if (buf.size() < static_cast<size_t>(n)) buf.resize(static_cast<size_t>(n));
  const auto* h = static_cast<const uint16_t*>(x);
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) widen_store(buf.data() + i, h + i);
  for (; i < n; ++i) buf[i] = scalar(h[i]);
  return buf.data();
}

// out[r] = the dot of rows a[0..R) with x, n elements; prefetches later rows when R is four.
template <class Step, int R>
static inline void float_rows_pass(int64_t n, const typename Step::W* const* a, const typename Step::X* x,
                                   const RowPrefetch* prefetch, float* const* out) {
  using V = typename Step::V;
  constexpr int64_t E = Step::kElems;
  V acc[R][2];
  for (auto& row : acc) row[0] = row[1] = Step::zero();
  int64_t i = 0;
  for (; i + 2 * E <= n; i += 2 * E)
    for (int r = 0; r < R; ++r) {
      if (prefetch != nullptr) (*prefetch)(a[r] + i, 2 * E * sizeof(typename Step::W));
      acc[r][0] = Step::dot(acc[r][0], a[r] + i, x + i);
      acc[r][1] = Step::dot(acc[r][1], a[r] + i + E, x + i + E);
    }
  for (int r = 0; r < R; ++r) {
    float tail = 0.0f;
    for (int64_t j = i; j < n; ++j) tail += Step::scalar_w(a[r][j]) * Step::scalar_x(x[j]);
    *out[r] = Step::sum(Step::add(acc[r][0], acc[r][1])) + tail;
  }
}

// The rows of four runs (row_quarters.h: a call's quarters, or decode's streams) against x.
template <class Step>
static inline void float_streams(int64_t n, const RowStreams& streams, const typename Step::X* x) {
  using W = typename Step::W;
  const RowPrefetch prefetch = quarter_prefetch();
  for (int64_t step = 0; step < streams.steps; ++step) {
    const W* a[4];
    float* sums[4];
    for (int q = 0; q < 4; ++q) {
      a[q] = reinterpret_cast<const W*>(streams.row(step, q));
      sums[q] = streams.result(step, q);
    }
    float_rows_pass<Step, 4>(n, a, x, &prefetch, sums);
  }
}

// vec_dot_rows over `rows` rows `stride` bytes apart, against the activation x (n elements).
template <class Step>
static inline void float_rows(int64_t n, const void* w, uint64_t stride, const typename Step::X* x, float* out,
                              int64_t rows) {
  using W = typename Step::W;
  float_streams<Step>(n, row_quarters(w, stride, out, rows), x);
  for (int64_t r = quarters_end(rows); r < rows; ++r) {
    const W* a[1] = {reinterpret_cast<const W*>(static_cast<const uint8_t*>(w) + static_cast<uint64_t>(r) * stride)};
    float* sums[1] = {out + r};
    float_rows_pass<Step, 1>(n, a, x, nullptr, sums);
  }
}

}  // namespace strata::cpu::detail
