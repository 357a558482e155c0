#include "engine/decode/matmul.h"

#include <algorithm>

#include "engine/threads/thread_pool.h"
#include "kernels/cpu/kernels.h"

namespace strata {

void MatMul::run(const TensorRef& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const int64_t n_in = w.cols(), n_out = w.rows();
  const TensorType act_type = cpu::vec_dot_type(w.type);
  const uint64_t act_row_bytes = row_bytes(act_type, static_cast<uint64_t>(n_in));
  if (xq_.size() < act_row_bytes * n_tokens) {
    xq_.reserve(act_row_bytes * n_tokens);  // exactly: the memory accounting counts capacity
    xq_.resize(act_row_bytes * n_tokens);
  }

  uint8_t* xq = xq_.data();
  auto quantize_rows = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) cpu::quantize_activation(w.type, x + t * n_in, xq + t * act_row_bytes, n_in);
  };
  if (n_tokens == 1)
    quantize_rows(0, 1);
  else
    pool.parallel_for(n_tokens, 1, quantize_rows);

  const auto vec_dot = cpu::kernels_for(w.type).vec_dot;
  const uint64_t w_row_bytes = w.row_bytes();
  // Rows are handed out in chunks: large enough to amortize dispatch, small enough to balance.
  const int64_t grain = std::max<int64_t>(1, std::min<int64_t>(64, n_out / (pool.size() * 8)));
  // With many tokens (prefill), tokens are taken in blocks so that a block of activation rows
  // stays in cache while every weight row of the chunk passes over it.
  constexpr int64_t kTokenBlock = 32;
  pool.parallel_for(n_out, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
      const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
      for (int64_t r = begin; r < end; ++r) {
        const uint8_t* wr = w.data + r * w_row_bytes;
        for (int64_t t = t0; t < t1; ++t) y[t * n_out + r] = vec_dot(n_in, wr, xq + t * act_row_bytes);
      }
    }
  });
}

}  // namespace strata
