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

// `rows` rows of n elements of type t, `stride` bytes apart from `w`: random blocks, or for the float
// types (one element a block) random normal values, as random bytes would be NaN and inf floats.
void fill_rows(TensorType t, uint8_t* w, uint64_t stride, int64_t rows, int64_t n, std::mt19937& rng) {
  const int64_t be = test::block_elems(t);
  for (int64_t r = 0; r < rows; ++r) {
    if (be > 1) {
      test::fill_random_blocks(t, w + r * stride, n / be, rng);
    } else {
      const auto v = test::random_normal(static_cast<size_t>(n), static_cast<uint32_t>(rng()));
      reference_kernels(t).from_float(v.data(), w + r * stride, n);
    }
  }
}

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
      fill_rows(t, w.data(), stride, rows, n, rng);
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

// Four runs given apart (TypeKernels::vec_dot_streams, decode's streams): each run's rows equal the
// reference dot, for runs that lie in one buffer out of order and in another buffer, of 1 to 9
// rows, row lengths ragged against the kernels' groups; the results go to four separate places,
// and nothing past a run's last result is written.
class VecDotStreams : public ::testing::TestWithParam<std::tuple<std::string, TensorType>> {};

TEST_P(VecDotStreams, EveryRunMatchesTheReferenceDot) {
  const auto& [level, t] = GetParam();
  const TypeKernels* k = kernels_at_level(t, level);
  if (k == nullptr) GTEST_SKIP() << "this CPU (or STRATA_CPU) has no " << level << " level";
  if (k->vec_dot_streams == nullptr)
    GTEST_SKIP() << level << " reads " << test::type_name(t) << " rows adjacent, not by quarters (no vec_dot_streams)";
  const TensorType act = vec_dot_type(t);
  const int64_t be = test::block_elems(t);
  std::mt19937 rng(902);
  int checked = 0;
  for (int64_t blocks : {1, 8, 9, 23}) {
    const int64_t n = be > 1 ? blocks * be : blocks * 33;
    const uint64_t row = row_bytes(t, static_cast<uint64_t>(n));
    const uint64_t stride = row + 64;
    for (int64_t steps : {1, 2, 5, 9}) {
      // Two buffers: runs 0, 1 and 3 in the first (run 1 before run 0), run 2 in the second.
      const int64_t rows_a = 3 * steps + 2;
      std::vector<uint8_t> a(stride * rows_a, 0xA5), b(stride * steps, 0x5A);
      fill_rows(t, a.data(), stride, rows_a, n, rng);
      fill_rows(t, b.data(), stride, steps, n, rng);
      const void* w[4] = {a.data() + (steps + 1) * stride, a.data(), b.data(), a.data() + (2 * steps + 2) * stride};
      const auto xsrc = test::random_normal(static_cast<size_t>(n), static_cast<uint32_t>(rng()));
      auto x = test::row_buffer(act, n);
      reference_kernels(act).from_float(xsrc.data(), x.data(), n);
      std::vector<float> xf(n), wf(n);
      reference_kernels(act).to_float(x.data(), xf.data(), n);

      std::vector<std::vector<float>> got(4, std::vector<float>(steps + 1, -7.0f));
      float* out[4] = {got[0].data(), got[1].data(), got[2].data(), got[3].data()};
      k->vec_dot_streams(n, w, stride, x.data(), out, steps);
      for (int q = 0; q < 4; ++q) {
        for (int64_t i = 0; i < steps; ++i) {
          const uint8_t* wr = static_cast<const uint8_t*>(w[q]) + i * stride;
          reference_kernels(t).to_float(wr, wf.data(), n);
          double sum_abs = 0;
          for (int64_t e = 0; e < n; ++e) sum_abs += std::fabs(static_cast<double>(wf[e]) * xf[e]);
          const float ref = reference_kernels(t).vec_dot(n, wr, x.data());
          EXPECT_NEAR(got[q][i], ref, 2 * test::float_sum_bound(t, n) * sum_abs + 1e-30)
              << level << " blocks=" << blocks << " steps=" << steps << " run " << q << " row " << i;
          ++checked;
        }
        EXPECT_EQ(got[q][steps], -7.0f) << "wrote past run " << q << ", steps=" << steps;
      }
    }
  }
  EXPECT_GT(checked, 0);
}

INSTANTIATE_TEST_SUITE_P(Levels, VecDotStreams,
                         ::testing::Combine(::testing::Values("avx2", "avx512"),
                                            ::testing::Values(TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K,
                                                              TensorType::F32, TensorType::F16, TensorType::BF16)),
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
    // Decode keeps four streams per share for these (matmul_decode.cpp); Q6_K reads adjacent rows.
    if (t != TensorType::Q6_K) {
      EXPECT_NE(k->vec_dot_streams, nullptr) << test::type_name(t);
    }
  }
  EXPECT_EQ(reference_kernels(TensorType::Q4_0).vec_dot_rows, nullptr) << "the reference is vec_dot per row";
}

}  // namespace
}  // namespace strata::cpu
