// Multi-row dot products (TypeKernels::vec_dot_rows, the decode matrix-vector product): every row
// of the run equals the reference vec_dot of that row against the shared activation, for run
// lengths around the kernels' group of four rows and runs of several rows per quarter (the rows
// each of the four streams takes, row_quarters.h), row lengths that are and are not a multiple of
// their group of eight blocks (float types: of their vector steps), a row stride larger than the
// row, and random weight bytes (float types: random normal values).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/kernels/kernel_test_util.h"

namespace strata::cpu {
namespace {

class VecDotRows : public ::testing::TestWithParam<std::tuple<std::string, TensorType>> {};

TEST_P(VecDotRows, EveryRowMatchesTheReferenceDot) {
  const auto& [level, t] = GetParam();
  const TypeKernels* k = kernels_at_level(t, level);
  if (k == nullptr) GTEST_SKIP() << "this CPU (or STRATA_CPU) has no " << level << " level";
  if (k->vec_dot_rows == nullptr)
    GTEST_SKIP() << level << " has no multi-row kernel for " << test::type_name(t) << " (vec_dot per row is used)";
  const TensorType act = vec_dot_type(t);
  const int64_t be = test::block_elems(t);
  std::mt19937 rng(901);
  int checked = 0;
  for (int64_t blocks : {1, 7, 8, 9, 16, 23, 64}) {
    // Float types (one element a block): 33 elements a "block", so rows are 33 to 2112 long and
    // their ends ragged against every vector width.
    const int64_t n = be > 1 ? blocks * be : blocks * 33;
    const uint64_t row = row_bytes(t, static_cast<uint64_t>(n));
    for (int64_t rows : {1, 3, 4, 5, 8, 11, 12, 13, 37}) {
      // Rows `stride` apart with a gap of garbage between them, which must not be read as data.
      const uint64_t stride = row + 64;
      std::vector<uint8_t> w(stride * rows, 0xA5);
      for (int64_t r = 0; r < rows; ++r) {
        if (be > 1) {
          test::fill_random_blocks(t, w.data() + r * stride, blocks, rng);
        } else {  // random bytes would be NaN and inf floats
          const auto v = test::random_normal(static_cast<size_t>(n), static_cast<uint32_t>(rng()));
          reference_kernels(t).from_float(v.data(), w.data() + r * stride, n);
        }
      }
      const auto xsrc = test::random_normal(static_cast<size_t>(n), static_cast<uint32_t>(rng()));
      auto x = test::row_buffer(act, n);
      reference_kernels(act).from_float(xsrc.data(), x.data(), n);
      std::vector<float> xf(n), wf(n);
      reference_kernels(act).to_float(x.data(), xf.data(), n);

      std::vector<float> got(rows + 1, -7.0f);  // one more than asked: must stay untouched
      k->vec_dot_rows(n, w.data(), stride, x.data(), got.data(), rows);
      for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* wr = w.data() + r * stride;
        reference_kernels(t).to_float(wr, wf.data(), n);
        double sum_abs = 0;
        for (int64_t i = 0; i < n; ++i) sum_abs += std::fabs(static_cast<double>(wf[i]) * xf[i]);
        const float ref = reference_kernels(t).vec_dot(n, wr, x.data());
        EXPECT_NEAR(got[r], ref, 2 * test::float_sum_bound(t, n) * sum_abs + 1e-30)
            << level << " blocks=" << blocks << " rows=" << rows << " row " << r;
        ++checked;
      }
      EXPECT_EQ(got[rows], -7.0f) << "wrote past the last row, rows=" << rows;
    }
  }
  EXPECT_GT(checked, 0);
}

INSTANTIATE_TEST_SUITE_P(Levels, VecDotRows,
                         ::testing::Combine(::testing::Values("avx2", "avx512"),
                                            ::testing::Values(TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K,
                                                              TensorType::Q6_K, TensorType::F32, TensorType::F16,
                                                              TensorType::BF16)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + test::param_name(std::get<1>(info.param));
                         });

// The levels that have multi-row kernels have them for the types decode spends its time on.
TEST(VecDotRowsDispatch, Avx512CoversTheDecodeTypes) {
  for (TensorType t : {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::F16,
                       TensorType::BF16}) {
    const TypeKernels* k = kernels_at_level(t, "avx512");
    if (k == nullptr) GTEST_SKIP() << "this CPU (or STRATA_CPU) has no avx512 level";
    EXPECT_NE(k->vec_dot_rows, nullptr) << test::type_name(t);
  }
  EXPECT_EQ(reference_kernels(TensorType::Q4_0).vec_dot_rows, nullptr) << "the reference is vec_dot per row";
}

}  // namespace
}  // namespace strata::cpu
