// Decode's matrix-vector product (MatMul::run with one token): the threads' shares, taken in
// runs and finished by whichever thread is free, cover every row exactly as one call of the
// multi-row kernel over the whole matrix does, for any thread count and ragged row counts; and
// several matrices of one input, run together, give what each gives alone.
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
  for (TensorType type : {TensorType::Q4_K, TensorType::Q6_K, TensorType::Q4_0, TensorType::Q8_0, TensorType::F16,
                          TensorType::BF16}) {
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

std::vector<float> random_input(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = nd(rng);
  return x;
}

// Runs `ms` together (one MatMul::run over products) and one by one; returns both outputs.
struct TogetherAndAlone {
  std::vector<std::vector<float>> together, alone;
};
TogetherAndAlone run_both(const std::vector<const Matrix*>& ms, const std::vector<float>& x, int64_t n_tokens,
                          ThreadPool& pool) {
  TogetherAndAlone out;
  MatMul mm;
  std::vector<MatMul::Product> products;
  for (const Matrix* m : ms) {
    out.together.emplace_back(m->ref.rows() * n_tokens, std::nanf(""));
    out.alone.emplace_back(m->ref.rows() * n_tokens, std::nanf(""));
  }
  for (size_t i = 0; i < ms.size(); ++i) products.push_back({&ms[i]->ref, out.together[i].data()});
  mm.run(products, x.data(), n_tokens, pool);
  for (size_t i = 0; i < ms.size(); ++i) mm.run(ms[i]->ref, x.data(), n_tokens, out.alone[i].data(), pool);
  return out;
}

TEST(MatMulDecode, MatricesOfOneInputRunTogetherAsTheyDoAlone) {
  // Q, K and V shaped: a long matrix, a short one, a middle one; rows in multiples of 4 as in
  // every model, so each row meets the same kernel path either way and agrees bit for bit.
  const int64_t cols = 512;
  for (TensorType type : {TensorType::Q4_K, TensorType::Q6_K, TensorType::Q4_0, TensorType::Q8_0, TensorType::F16,
                          TensorType::BF16}) {
    SCOPED_TRACE(tensor_type_name(type));
    const int64_t chunk_rows = MatMul::kDecodeChunkBytes / row_bytes(type, cols) / 4 * 4;
    const Matrix a = quantized(type, 3 * chunk_rows + 8, cols, 1), b = quantized(type, 64, cols, 2),
                 c = quantized(type, 2 * chunk_rows + 4, cols, 3);
    const std::vector<float> x = random_input(cols, 4);
    for (int threads : {1, 2, 3, 5}) {
      ThreadPool pool(threads);
      const TogetherAndAlone r = run_both({&a, &b, &c}, x, 1, pool);
      for (size_t i = 0; i < 3; ++i) EXPECT_EQ(r.together[i], r.alone[i]) << threads << " threads, matrix " << i;
    }
  }
}

TEST(MatMulDecode, RaggedMatricesRunTogetherCoverEveryRowOnce) {
  // Row counts that are not multiples of 4 put the matrices' edges inside the threads' 4-row
  // runs: a row may then go through the kernels' tail path in one run and not in the other, so
  // the sums agree to rounding, and no row is left unwritten (NaN) or taken from another matrix.
  const int64_t cols = 256;
  const TensorType type = TensorType::Q4_0;
  const int64_t chunk_rows = MatMul::kDecodeChunkBytes / row_bytes(type, cols);
  const Matrix a = quantized(type, 37, cols, 5), b = quantized(type, 5, cols, 6),
               c = quantized(type, 2 * chunk_rows + 3, cols, 7);
  const std::vector<float> x = random_input(cols, 8);
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    const TogetherAndAlone r = run_both({&a, &b, &c}, x, 1, pool);
    for (size_t i = 0; i < 3; ++i)
      for (size_t row = 0; row < r.alone[i].size(); ++row)
        ASSERT_NEAR(r.together[i][row], r.alone[i][row], 1e-4f * (1.0f + std::fabs(r.alone[i][row])))
            << threads << " threads, matrix " << i << ", row " << row;
  }
}

TEST(MatMulDecode, MatricesThatCannotRunTogetherRunOneByOne) {
  // Different types, or more than one token: each product on its own, the same results.
  const int64_t cols = 256;
  const Matrix a = quantized(TensorType::Q4_0, 40, cols, 9), b = quantized(TensorType::Q8_0, 24, cols, 10);
  ThreadPool pool(2);
  for (int64_t n_tokens : {1, 3}) {
    const std::vector<float> x = random_input(cols * n_tokens, 11);
    const TogetherAndAlone r = run_both({&a, &b}, x, n_tokens, pool);
    for (size_t i = 0; i < 2; ++i) EXPECT_EQ(r.together[i], r.alone[i]) << n_tokens << " tokens, matrix " << i;
  }
}

}  // namespace
}  // namespace strata
