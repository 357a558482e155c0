// Decode's matrix-vector product (MatMul::run with one token): the threads' shares, taken in
// chunks and finished by whichever thread is free, cover every row exactly as one call of the
// multi-row kernel over the whole matrix does, for any thread count and ragged row counts.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/decode/matmul.h"
#include "engine/threads/thread_pool.h"
#include "kernels/cpu/kernels.h"

namespace strata {
namespace {

struct Matrix {
  TensorRef ref;
  std::vector<uint8_t> bytes;
};

Matrix quantized(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> f(static_cast<size_t>(rows * cols));
  for (float& v : f) v = nd(rng);
  Matrix m;
  m.bytes.resize(row_bytes(type, cols) * rows);
  cpu::kernels_for(type).from_float(f.data(), m.bytes.data(), rows * cols);
  m.ref.name = std::string(tensor_type_name(type)) + " matrix";
  m.ref.type = type;
  m.ref.dims = {cols, rows, 1, 1};
  m.ref.n_dims = 2;
  m.ref.data = m.bytes.data();
  m.ref.bytes = m.bytes.size();
  return m;
}

TEST(MatMulDecode, ChunkedSharesEqualOneKernelCallForEveryThreadCount) {
  const int64_t cols = 512;
  // Several 64 KiB chunks per share, and a row count that is not a multiple of 4.
  for (TensorType type : {TensorType::Q4_K, TensorType::Q6_K, TensorType::Q4_0, TensorType::Q8_0}) {
    SCOPED_TRACE(tensor_type_name(type));
    const auto vec_dot_rows = cpu::kernels_for(type).vec_dot_rows;
    if (!vec_dot_rows) {
      std::printf("[ NOTE ] %s has no multi-row kernel at this CPU level; decode takes the per-row path\n",
                  std::string(tensor_type_name(type)).c_str());
      continue;
    }
    const int64_t rows = 2 * (MatMul::kDecodeChunkBytes / row_bytes(type, cols)) * 3 + 3;
    const Matrix m = quantized(type, rows, cols, 7);
    std::mt19937 rng(9);
    std::normal_distribution<float> nd;
    std::vector<float> x(cols);
    for (float& v : x) v = nd(rng);
    std::vector<uint8_t> xq(row_bytes(cpu::vec_dot_type(type), cols));
    cpu::quantize_activation(type, x.data(), xq.data(), cols);
    std::vector<float> expect(rows);
    vec_dot_rows(cols, m.ref.data, m.ref.row_bytes(), xq.data(), expect.data(), rows);

    for (int threads : {1, 2, 3, 5}) {
      ThreadPool pool(threads);
      MatMul mm;
      for (int rep = 0; rep < 2; ++rep) {  // the shares are set up afresh for every product
        std::vector<float> got(rows, std::nanf(""));
        mm.run(m.ref, x.data(), 1, got.data(), pool);
        EXPECT_EQ(got, expect) << threads << " threads, product " << rep;  // every row, bit for bit
      }
    }
  }
}

}  // namespace
}  // namespace strata
