// Dot products: the reference against a double-precision dot of the dequantized rows, and every
// fast level (avx2, avx512) against the reference; fast quantizers and conversions against the
// reference byte for byte.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include "tests/kernels/kernel_test_util.h"

namespace strata::cpu {
namespace {

struct Rows {
  std::vector<uint8_t> w, x;        // weight row (type t), activation row (vec_dot_type(t))
  std::vector<float> wf, xf;        // both dequantized
  double exact = 0, sum_abs = 0;    // double dot of wf, xf and sum of |wf * xf|
  double format_slack = 0;          // deviation the format itself allows (Q8_1's s, below)
};

Rows make_rows(TensorType t, int64_t n, uint32_t seed) {
  const TensorType a = vec_dot_type(t);
  Rows r;
  const auto wsrc = test::random_varied(static_cast<size_t>(n), 32, seed);
  const auto xsrc = test::random_normal(static_cast<size_t>(n), seed + 1000);
  r.w = test::row_buffer(t, n);
  r.x = test::row_buffer(a, n);
  reference_kernels(t).from_float(wsrc.data(), r.w.data(), n);
  reference_kernels(a).from_float(xsrc.data(), r.x.data(), n);
  r.wf.resize(n);
  r.xf.resize(n);
  reference_kernels(t).to_float(r.w.data(), r.wf.data(), n);
  reference_kernels(a).to_float(r.x.data(), r.xf.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    r.exact += static_cast<double>(r.wf[i]) * r.xf[i];
    r.sum_abs += std::fabs(static_cast<double>(r.wf[i]) * r.xf[i]);
  }
  // Q4_1 / Q5_1 against Q8_1: the min term m_w * sum(x) uses the block's stored s = fp16(d *
  // sum(q)), as llama.cpp does, not the sum of the dequantized x: off by up to 2^-11 * |s|.
  if (a == TensorType::Q8_1) {
    const size_t bb = traits_of(t).block_bytes;
    for (int64_t b = 0; b < n / 32; ++b) {
      double sx = 0;
      for (int j = 0; j < 32; ++j) sx += r.xf[32 * b + j];
      r.format_slack += std::fabs(test::half_value(test::load_u16(r.w.data() + bb * b + 2)) * sx) * 0x1p-11;
    }
  }
  return r;
}

// Row lengths: 1..64 blocks for block types, assorted lengths (odd ones too) for float types.
std::vector<int64_t> lengths(TensorType t, uint32_t seed) {
  const int64_t be = test::block_elems(t);
  std::vector<int64_t> n;
  if (be == 1) {
    n = {1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 100, 1000, 4096, 4099};
  } else {
    for (int64_t b : {1, 2, 3, 4, 5, 7, 8, 16, 33, 64}) n.push_back(b * be);
    std::mt19937 rng(seed);
    for (int i = 0; i < 6; ++i) n.push_back((1 + rng() % 64) * be);
  }
  return n;
}

class VecDot : public ::testing::TestWithParam<TensorType> {};

TEST_P(VecDot, ReferenceMatchesDoubleDotOfDequantizedRows) {
  const TensorType t = GetParam();
  uint32_t seed = 100;
  for (int64_t n : lengths(t, 1)) {
    const Rows r = make_rows(t, n, seed++);
    const float got = reference_kernels(t).vec_dot(n, r.w.data(), r.x.data());
    EXPECT_NEAR(got, r.exact, test::float_sum_bound(t, n) * r.sum_abs + 1.01 * r.format_slack + 1e-30) << "n=" << n;
  }
}

class VecDotLevel : public ::testing::TestWithParam<std::tuple<std::string, TensorType>> {
 protected:
  const TypeKernels* fast() {
    const auto& [level, t] = GetParam();
    return kernels_at_level(t, level);
  }
};

TEST_P(VecDotLevel, MatchesReference) {
  const auto& [level, t] = GetParam();
  const TypeKernels* k = fast();
  if (k == nullptr) GTEST_SKIP() << "this CPU (or STRATA_CPU) has no " << level << " level";
  uint32_t seed = 500;
  double worst = 0;
  for (int64_t n : lengths(t, 2)) {
    const Rows r = make_rows(t, n, seed++);
    const float ref = reference_kernels(t).vec_dot(n, r.w.data(), r.x.data());
    const float got = k->vec_dot(n, r.w.data(), r.x.data());
    // Both sides carry their own rounding: twice the bound.
    EXPECT_NEAR(got, ref, 2 * test::float_sum_bound(t, n) * r.sum_abs + 1e-30) << level << " n=" << n;
    worst = std::max(worst, std::fabs(static_cast<double>(got) - ref) / r.sum_abs);
  }
  std::printf("[ info ] %s %s: worst |fast - reference| / sum|w x| = %.2e\n", level.c_str(),
              tensor_type_name(t).data(), worst);
}

class VecDotLevelBlocks : public VecDotLevel {};

// Weight rows straight from random bytes (any nibble / bit pattern, any scales) rather than from
// our quantizers; activation from the activation quantizer (so its values are never -128).
TEST_P(VecDotLevelBlocks, MatchesReferenceOnRandomWeightBytes) {
  const auto& [level, t] = GetParam();
  const TypeKernels* k = fast();
  if (k == nullptr) GTEST_SKIP() << "this CPU (or STRATA_CPU) has no " << level << " level";
  std::mt19937 rng(77);
  for (int64_t blocks : {1, 3, 8, 17, 64}) {
    const int64_t n = blocks * test::block_elems(t);
    auto w = test::row_buffer(t, n);
    test::fill_random_blocks(t, w.data(), blocks, rng);
    std::vector<float> wf(n);
    const auto xsrc = test::random_normal(static_cast<size_t>(n), 78);
    auto x = test::row_buffer(vec_dot_type(t), n);
    reference_kernels(vec_dot_type(t)).from_float(xsrc.data(), x.data(), n);
    reference_kernels(t).to_float(w.data(), wf.data(), n);
    std::vector<float> xf(n);
    reference_kernels(vec_dot_type(t)).to_float(x.data(), xf.data(), n);
    double sum_abs = 0;
    for (int64_t i = 0; i < n; ++i) sum_abs += std::fabs(static_cast<double>(wf[i]) * xf[i]);
    const float ref = reference_kernels(t).vec_dot(n, w.data(), x.data());
    const float got = k->vec_dot(n, w.data(), x.data());
    EXPECT_NEAR(got, ref, 2 * test::float_sum_bound(t, n) * sum_abs + 1e-30) << level << " blocks=" << blocks;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, VecDot, ::testing::ValuesIn(test::weight_types()),
                         [](const auto& info) { return test::param_name(info.param); });

INSTANTIATE_TEST_SUITE_P(Levels, VecDotLevel,
                         ::testing::Combine(::testing::Values("avx2", "avx512"),
                                            ::testing::ValuesIn(test::weight_types())),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + test::param_name(std::get<1>(info.param));
                         });

INSTANTIATE_TEST_SUITE_P(Levels, VecDotLevelBlocks,
                         ::testing::Combine(::testing::Values("avx2", "avx512"),
                                            ::testing::ValuesIn(test::block_weight_types())),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + test::param_name(std::get<1>(info.param));
                         });

// ---- conversions and activation quantizers: bit-exact across levels ----

std::vector<float> tricky_floats(size_t n, uint32_t seed) {
  auto v = test::random_varied(n, 32, seed);
  std::mt19937 rng(seed);
  // Exact rounding ties for the Q8 quantizers: a block whose largest magnitude is 127 (so
  // 1/d = 1 exactly) and whose other values sit on .5.
  for (size_t j = 0; j < 32 && j < n; ++j) v[j] = (j == 0) ? 127.0f : static_cast<float>(static_cast<int>(j) - 16) + 0.5f;
  // Raw bit patterns: subnormals, huge values, NaN (the F16/BF16 conversions must agree on them).
  for (size_t j = 64; j < 96 && j < n; ++j) v[j] = std::bit_cast<float>(static_cast<uint32_t>(rng()));
  return v;
}

class ConvertLevel : public ::testing::TestWithParam<std::tuple<std::string, TensorType>> {};

TEST_P(ConvertLevel, FromFloatAndToFloatMatchReferenceBytes) {
  const auto& [level, t] = GetParam();
  const TypeKernels* k = kernels_at_level(t, level);
  if (k == nullptr) GTEST_SKIP() << "this CPU (or STRATA_CPU) has no " << level << " level";
  const bool floats = test::block_elems(t) == 1;
  for (int64_t blocks : {1, 2, 5, 16, 33}) {
    const int64_t n = blocks * std::max<int64_t>(test::block_elems(t), 32) + (floats ? 7 : 0);
    auto x = tricky_floats(static_cast<size_t>(n), static_cast<uint32_t>(blocks));
    if (!floats)  // NaN and huge values are out of contract for quantizers
      for (auto& v : x)
        if (!std::isfinite(v) || std::fabs(v) > 1e6f) v = 1.0f;
    auto ref = test::row_buffer(t, n), got = test::row_buffer(t, n);
    reference_kernels(t).from_float(x.data(), ref.data(), n);
    k->from_float(x.data(), got.data(), n);
    ASSERT_EQ(std::memcmp(ref.data(), got.data(), ref.size()), 0) << level << " from_float n=" << n;
    std::vector<float> ref_f(n), got_f(n);
    reference_kernels(t).to_float(ref.data(), ref_f.data(), n);
    k->to_float(ref.data(), got_f.data(), n);
    ASSERT_EQ(std::memcmp(ref_f.data(), got_f.data(), n * sizeof(float)), 0) << level << " to_float n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, ConvertLevel,
                         ::testing::Combine(::testing::Values("avx2", "avx512"),
                                            ::testing::Values(TensorType::F16, TensorType::BF16, TensorType::Q8_0,
                                                              TensorType::Q8_1, TensorType::Q8_K)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + test::param_name(std::get<1>(info.param));
                         });

TEST(QuantizeActivation, WritesTheVecDotTypeOfTheWeight) {
  const auto x = test::random_normal(512, 5);
  for (TensorType t : test::weight_types()) {
    const TensorType a = vec_dot_type(t);
    auto got = test::row_buffer(a, 512), ref = test::row_buffer(a, 512);
    quantize_activation(t, x.data(), got.data(), 512);
    reference_kernels(a).from_float(x.data(), ref.data(), 512);
    EXPECT_EQ(got, ref) << tensor_type_name(t);
  }
}

}  // namespace
}  // namespace strata::cpu
