// y = W x for a batch of activation rows, on the thread pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/model/weight_store.h"

namespace strata {

namespace cpu {
struct GemmKernels;
struct TypeKernels;
}

class ThreadPool;

class MatMul {
 public:
  // x: [n_tokens][w.cols()] floats; y: [n_tokens][w.rows()] floats.
  // The activations are first converted to the weight type's dot-product format (8-bit blocks
  // for quantized weights, f16 for f16 weights), as llama.cpp does, so results agree with it.
  // From kGemmMinTokens tokens on, types with a GEMM kernel (kernels/cpu/gemm.h) go through
  // packed weight panels and register tiles instead of one dot product per (row, token).
  void run(const TensorRef& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);
  // One input, several matrices: products[i].y = products[i].w x, as the Q, K and V projections
  // or the FFN's gate and up are. In decode (one token), when the matrices share a type and a
  // width, the input is converted once and their rows go to the threads as one run in a single
  // dispatch: no barrier between them, and no thread idles while another ends its share.
  // Otherwise each product runs on its own.
  struct Product {
    const TensorRef* w;
    float* y;
  };
  void run(std::span<const Product> products, const float* x, int64_t n_tokens, ThreadPool& pool);
  // Bytes held for converted activations and packed weight panels.
  uint64_t scratch_bytes() const;

  // Decode: the fewest bytes of rows a thread takes from a share at a time (matmul_decode.cpp).
  static constexpr uint64_t kDecodeChunkBytes = 256 * 1024;
  // Below this many tokens, packing a panel costs more than the tile saves.
  static constexpr int64_t kGemmMinTokens = 4;
  // Panels (8 rows each) a thread packs and keeps at a time in the GEMM.
  static constexpr int64_t kPanelsPerChunk = 8;
  // Panels of `w` a thread packs at a time: fewer than kPanelsPerChunk when the matrix is small,
  // so that every one of `threads` threads gets several chunks.
  static int64_t gemm_panels_per_chunk(const TensorRef& w, int threads);
  // Bytes of packed panels one pool thread holds for `w` (0: no GEMM for its type).
  static uint64_t gemm_panel_bytes_per_thread(const TensorRef& w, int threads);

 private:
  using VecDotRows = void (*)(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows);
  using VecDotStreams = void (*)(int64_t n, const void* const w[4], uint64_t stride, const void* x,
                                 float* const out[4], int64_t steps);
  // Converts x to the dot-product format of `type` into xq_ (n_tokens rows); returns the row size.
  uint64_t quantize_input(TensorType type, const float* x, int64_t n_in, int64_t n_tokens, ThreadPool& pool);
  void run_vec_dot(const TensorRef& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);
  // Decode over the rows of several matrices of one type and width, taken as one run
  // (matmul_decode.cpp): by streams where the type's kernels have vec_dot_streams, else by calls
  // of vec_dot_rows.
  void run_decode(const cpu::TypeKernels& k, std::span<const Product> products, const uint8_t* xq, ThreadPool& pool);
  void run_decode_rows(VecDotRows vec_dot_rows, std::span<const Product> products, const uint8_t* xq,
                       ThreadPool& pool);
  void run_decode_streams(VecDotStreams vec_dot_streams, VecDotRows vec_dot_rows, std::span<const Product> products,
                          const uint8_t* xq, ThreadPool& pool);
  // first_rows_ of the products, and each thread's share of their rows.
  void set_up_shares(std::span<const Product> products, int threads);
  // The product whose rows hold run row `row`.
  size_t product_of(int64_t row) const;
  void run_gemm(const cpu::GemmKernels& g, const TensorRef& w, const float* x, int64_t n_tokens, float* y,
                ThreadPool& pool);

  std::vector<uint8_t> xq_;                   // converted activations, reused across calls
  std::vector<std::vector<uint8_t>> panels_;  // per pool thread: packed weight panels
  // Decode: per pool thread, its share of the run's rows, [begin, end), and how far it is taken:
  // the next row (run_decode_rows) or the steps of its four streams (run_decode_streams).
  struct alignas(64) Share {
    std::atomic<int64_t> next{0};
    int64_t begin = 0, end = 0;
  };
  std::unique_ptr<Share[]> shares_;
  int n_shares_ = 0;
  std::vector<int64_t> first_rows_;  // decode over several matrices: where each one's rows start
};

}  // namespace strata
