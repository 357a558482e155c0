#include "engine/decode/matmul.h"

#include <algorithm>
#include <atomic>
#include <memory>

#include "engine/threads/thread_pool.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/kernels.h"

namespace strata {
namespace {

// Grows a scratch buffer to exactly n bytes of capacity: the memory accounting counts capacity.
void fit(std::vector<uint8_t>& v, uint64_t n) {
  if (v.size() < n) {
    v.reserve(n);
    v.resize(n);
  }
}

// Cache blocking of the GEMM. A thread takes MatMul::kPanelsPerChunk panels (8 rows each) at a
// time and packs them (for a 8192-wide row, 8 x 8 x 8.5 KiB = 0.5 MiB), then runs them against
// the tokens in blocks of about kActBlockBytes of packed activations, so both stay in the core's
// L2 while the tile kernels stream over them.
constexpr uint64_t kActBlockBytes = 768 * 1024;

// Without a multi-row kernel, rows go one by one through vec_dot; the row kPrefetchRows ahead is
// requested before each, so that its bytes arrive while this one is multiplied (rows are a few
// KiB, and the hardware prefetcher stops at every 4 KiB page).
constexpr int64_t kPrefetchRows = 4;

void prefetch_row(const uint8_t* p, uint64_t bytes) {
  for (uint64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

}  // namespace

uint64_t MatMul::scratch_bytes() const {
  uint64_t n = xq_.capacity();
  for (const auto& p : panels_) n += p.capacity();
  return n;
}

int64_t MatMul::gemm_panels_per_chunk(const TensorRef& w, int threads) {
  const int64_t n_panels = (w.rows() + cpu::kGemmPanelRows - 1) / cpu::kGemmPanelRows;
  return std::clamp<int64_t>(n_panels / (int64_t{4} * threads), 1, kPanelsPerChunk);
}

uint64_t MatMul::gemm_panel_bytes_per_thread(const TensorRef& w, int threads) {
  const cpu::GemmKernels* g = cpu::gemm_kernels_for(w.type);
  return g ? g->panel_bytes(w.cols()) * gemm_panels_per_chunk(w, threads) : 0;
}

void MatMul::run(const TensorRef& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  if (n_tokens >= kGemmMinTokens)
    if (const cpu::GemmKernels* g = cpu::gemm_kernels_for(w.type)) return run_gemm(*g, w, x, n_tokens, y, pool);
  run_vec_dot(w, x, n_tokens, y, pool);
}

void MatMul::run_gemm(const cpu::GemmKernels& g, const TensorRef& w, const float* x, int64_t n_tokens, float* y,
                      ThreadPool& pool) {
  const int64_t k = w.cols(), n_out = w.rows();
  constexpr int64_t B = cpu::kGemmBlockTokens;
  const uint64_t block_bytes = g.act_bytes(k);
  const int64_t n_blocks = (n_tokens + B - 1) / B;
  fit(xq_, block_bytes * n_blocks);
  uint8_t* acts = xq_.data();
  pool.parallel_for(n_blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      g.pack_act(x + b * B * k, k, static_cast<int>(std::min(B, n_tokens - b * B)), k, acts + b * block_bytes);
  });

  const int64_t n_panels = (n_out + cpu::kGemmPanelRows - 1) / cpu::kGemmPanelRows;
  const int64_t per_chunk = gemm_panels_per_chunk(w, pool.size());
  const int64_t n_chunks = (n_panels + per_chunk - 1) / per_chunk;
  const uint64_t panel_bytes = g.panel_bytes(k);
  // Whole activation blocks of 8 tokens per token block.
  const int64_t token_block = B * std::max<int64_t>(1, static_cast<int64_t>(kActBlockBytes / block_bytes));
  if (panels_.size() < static_cast<size_t>(pool.size())) panels_.resize(pool.size());
  const uint64_t w_row_bytes = w.row_bytes();

  std::atomic<int64_t> next{0};
  pool.run([&](int ith, int) {
    std::vector<uint8_t>& buf = panels_[ith];
    fit(buf, panel_bytes * per_chunk);
    for (;;) {
      const int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= n_chunks) return;
      const int64_t p0 = c * per_chunk, p1 = std::min(n_panels, p0 + per_chunk);
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t r0 = p * cpu::kGemmPanelRows;
        const int rows = static_cast<int>(std::min<int64_t>(cpu::kGemmPanelRows, n_out - r0));
        g.pack_panel(w.data + r0 * w_row_bytes, w_row_bytes, rows, k, buf.data() + (p - p0) * panel_bytes);
      }
      for (int64_t t0 = 0; t0 < n_tokens; t0 += token_block) {
        const int nt = static_cast<int>(std::min(token_block, n_tokens - t0));
        // Two panels at a time where the level has a wider tile (AVX-512: 16 rows per pass).
        for (int64_t p = p0; p < p1;) {
          const int64_t r0 = p * cpu::kGemmPanelRows;
          const bool pair = g.tile_pair != nullptr && p + 1 < p1;
          const int rows = static_cast<int>(std::min<int64_t>(cpu::kGemmPanelRows * (pair ? 2 : 1), n_out - r0));
          (pair ? g.tile_pair : g.tile)(buf.data() + (p - p0) * panel_bytes, rows, k, acts + (t0 / B) * block_bytes,
                                        nt, y + t0 * n_out + r0, n_out);
          p += pair ? 2 : 1;
        }
      }
    }
  });
}

uint64_t MatMul::quantize_input(TensorType type, const float* x, int64_t n_in, int64_t n_tokens, ThreadPool& pool) {
  const uint64_t act_row_bytes = row_bytes(cpu::vec_dot_type(type), static_cast<uint64_t>(n_in));
  fit(xq_, act_row_bytes * n_tokens);
  uint8_t* xq = xq_.data();
  auto quantize_rows = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) cpu::quantize_activation(type, x + t * n_in, xq + t * act_row_bytes, n_in);
  };
  if (n_tokens == 1)
    quantize_rows(0, 1);
  else
    pool.parallel_for(n_tokens, 1, quantize_rows);
  return act_row_bytes;
}

void MatMul::run(std::span<const Product> products, const float* x, int64_t n_tokens, ThreadPool& pool) {
  if (products.empty()) return;
  const TensorRef& w0 = *products[0].w;
  bool together = n_tokens == 1 && cpu::kernels_for(w0.type).vec_dot_rows != nullptr;
  for (const Product& p : products)
    together = together && p.w->type == w0.type && p.w->cols() == w0.cols() && p.w->row_bytes() == w0.row_bytes();
  if (!together) {
    for (const Product& p : products) run(*p.w, x, n_tokens, p.y, pool);
    return;
  }
  quantize_input(w0.type, x, w0.cols(), 1, pool);
  run_decode(cpu::kernels_for(w0.type), products, xq_.data(), pool);
}

void MatMul::run_vec_dot(const TensorRef& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const int64_t n_in = w.cols(), n_out = w.rows();
  const uint64_t act_row_bytes = quantize_input(w.type, x, n_in, n_tokens, pool);
  const uint8_t* xq = xq_.data();

  const auto& kernels = cpu::kernels_for(w.type);
  const auto vec_dot = kernels.vec_dot;
  const auto vec_dot_rows = kernels.vec_dot_rows;
  if (n_tokens == 1 && vec_dot_rows != nullptr) {
    const Product one{&w, y};
    return run_decode(kernels, std::span<const Product>(&one, 1), xq, pool);
  }
  const uint64_t w_row_bytes = w.row_bytes();
  // Rows are handed out in chunks: large enough to amortize dispatch, small enough to balance.
  const int64_t grain = std::max<int64_t>(1, std::min<int64_t>(64, n_out / (pool.size() * 8)));
  // With several tokens, tokens are taken in blocks so that a block of activation rows stays in
  // cache while every weight row of the chunk passes over it. Where the CPU level has a
  // multi-row kernel, a chunk's rows go to it in one call per token.
  constexpr int64_t kTokenBlock = 32;
  pool.parallel_for(n_out, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
      const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
      if (vec_dot_rows != nullptr) {
        for (int64_t t = t0; t < t1; ++t)
          vec_dot_rows(n_in, w.data + begin * w_row_bytes, w_row_bytes, xq + t * act_row_bytes, y + t * n_out + begin,
                       end - begin);
        continue;
      }
      for (int64_t r = begin; r < end; ++r) {
        const uint8_t* wr = w.data + r * w_row_bytes;
        if (t0 == 0) prefetch_row(wr + kPrefetchRows * w_row_bytes, w_row_bytes);
        for (int64_t t = t0; t < t1; ++t) y[t * n_out + r] = vec_dot(n_in, wr, xq + t * act_row_bytes);
      }
    }
  });
}

}  // namespace strata
