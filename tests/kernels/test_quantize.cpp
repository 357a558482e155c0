// Quantizers: the ggml rounding rules where they are prescribed (Q8_0, Q8_1, Q8_K, Q4_0 ...),
// error bounds of quantize -> dequantize per type stated in terms of each block's scale, and
// valid blocks for awkward inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/quant_blocks.h"
#include "tests/kernels/kernel_test_util.h"

namespace strata::cpu {
namespace {

using test::half_value;
using test::load_u16;

constexpr double kHalfEps = 1.0 / 1024;  // relative rounding of a value stored as fp16: <= 2^-11

// ---- ggml's rules, restated here ----

TEST(Quantize, Q8_0FollowsGgmlRule) {
  const auto x = test::random_varied(32 * 64, 32, 11);
  std::vector<uint8_t> q;
  test::round_trip(TensorType::Q8_0, x, &q);
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const uint8_t* blk = q.data() + 34 * b;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    EXPECT_EQ(load_u16(blk), fp32_to_fp16(d));
    for (int j = 0; j < 32; ++j)
      ASSERT_EQ(static_cast<int8_t>(blk[2 + j]), static_cast<int>(std::round(x[32 * b + j] * id))) << b << " " << j;
  }
}

TEST(Quantize, Q8_1StoresScaledSum) {
  const auto x = test::random_varied(32 * 64, 32, 12);
  std::vector<uint8_t> q;
  test::round_trip(TensorType::Q8_1, x, &q);
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const uint8_t* blk = q.data() + 36 * b;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      const int expect = static_cast<int>(std::round(x[32 * b + j] * id));
      ASSERT_EQ(static_cast<int8_t>(blk[4 + j]), expect);
      sum += expect;
    }
    EXPECT_EQ(load_u16(blk), fp32_to_fp16(d));
    EXPECT_EQ(load_u16(blk + 2), fp32_to_fp16(static_cast<float>(sum) * d));
  }
}

TEST(Quantize, Q8_KFollowsGgmlRule) {
  auto x = test::random_varied(256 * 16, 256, 13);
  std::fill(x.begin() + 256 * 3, x.begin() + 256 * 4, 0.0f);  // an all-zero block
  x[256 * 5 + 10] = 50.0f;  // magnitude ties: the first one sets the sign of the scale
  x[256 * 5 + 20] = -50.0f;
  std::vector<uint8_t> q;
  test::round_trip(TensorType::Q8_K, x, &q);
  for (size_t b = 0; b < x.size() / 256; ++b) {
    const uint8_t* blk = q.data() + 292 * b;
    const float* xb = x.data() + 256 * b;
    float amax = 0, max = 0;
    for (int j = 0; j < 256; ++j)
      if (std::fabs(xb[j]) > amax) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    float d;
    std::memcpy(&d, blk, 4);
    if (amax == 0) {
      EXPECT_EQ(d, 0.0f);
      for (int j = 0; j < 256; ++j) EXPECT_EQ(blk[4 + j], 0);
      continue;
    }
    const float iscale = -127.0f / max;
    EXPECT_EQ(d, 1.0f / iscale);
    for (int j = 0; j < 256; ++j)
      ASSERT_EQ(static_cast<int8_t>(blk[4 + j]), std::min(127, static_cast<int>(std::nearbyint(iscale * xb[j])))) << j;
    for (int k = 0; k < 16; ++k) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += static_cast<int8_t>(blk[4 + 16 * k + l]);
      EXPECT_EQ(static_cast<int16_t>(load_u16(blk + 260 + 2 * k)), s);
    }
  }
}

// ---- error bounds of the 32-element types, per block ----

struct BlockView {
  double d;   // scale
  double m;   // min (0 for _0 types)
};

BlockView view(TensorType t, const uint8_t* blk) {
  switch (t) {
    case TensorType::Q4_1:
    case TensorType::Q5_1:
      return {half_value(load_u16(blk)), half_value(load_u16(blk + 2))};
    default:
      return {half_value(load_u16(blk)), 0.0};
  }
}

// |x - dequant(x)| bound for one block, derived from the format and ggml's rounding:
//   Q8_0: round to nearest of x/d, d = amax/127: half a step, plus the fp16 rounding of d over
//         up to 127 steps.
//   Q4_0 / Q5_0: d = max/-8 (-16) puts the largest magnitude on -8 (-16); values near +max clamp
//         at 7 (15): up to one step; plus fp16 rounding of d over 8 (16) steps.
//   Q4_1 / Q5_1: half a step from min, plus fp16 rounding of d over 15 (31) steps and of m.
double error_bound(TensorType t, BlockView v) {
  const double d = std::fabs(v.d), m = std::fabs(v.m);
  switch (t) {
    case TensorType::Q8_0: return 0.5 * d + 127 * d * kHalfEps;
    case TensorType::Q4_0: return 1.0 * d + 8 * d * kHalfEps;
    case TensorType::Q5_0: return 1.0 * d + 16 * d * kHalfEps;
    case TensorType::Q4_1: return 0.5 * d + 15 * d * kHalfEps + m * kHalfEps;
    case TensorType::Q5_1: return 0.5 * d + 31 * d * kHalfEps + m * kHalfEps;
    default: return 0;
  }
}

class SmallBlockError : public ::testing::TestWithParam<TensorType> {};

TEST_P(SmallBlockError, WithinBoundOfBlockScale) {
  const TensorType t = GetParam();
  const auto x = test::random_varied(32 * 256, 32, 21);
  std::vector<uint8_t> q;
  const auto y = test::round_trip(t, x, &q);
  const size_t bytes = traits_of(t).block_bytes;
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const double bound = error_bound(t, view(t, q.data() + bytes * b)) * (1 + 1e-6) + 1e-30;
    for (int j = 0; j < 32; ++j) {
      const size_t i = 32 * b + j;
      ASSERT_LE(std::fabs(static_cast<double>(y[i]) - x[i]), bound) << "block " << b << " element " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, SmallBlockError,
                         ::testing::Values(TensorType::Q8_0, TensorType::Q4_0, TensorType::Q5_0, TensorType::Q4_1,
                                           TensorType::Q5_1),
                         [](const auto& info) { return test::param_name(info.param); });

// ---- K-quants: relative RMS error, and a per-element bound in sub-block steps ----

struct KQuantCase {
  TensorType type;
  double max_rel_rms;  // RMS(error) / RMS(data) on normal data
};

class KQuantError : public ::testing::TestWithParam<KQuantCase> {};

// The decoding step of each element's sub-block: d * sc (Q4_K, Q5_K) or |d * scale| (Q6_K).
std::vector<double> element_steps(TensorType t, const std::vector<uint8_t>& q, size_t n) {
  std::vector<double> steps(n);
  for (size_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = q.data() + traits_of(t).block_bytes * b;
    for (int e = 0; e < 256; ++e) {
      double step;
      if (t == TensorType::Q6_K) {
        step = std::fabs(half_value(load_u16(blk + 208)) * static_cast<int8_t>(blk[192 + e / 16]));
      } else {
        uint8_t sc[8], m[8];
        unpack_q4k_scales(blk + 4, sc, m);
        step = half_value(load_u16(blk)) * sc[e / 32];
      }
      steps[256 * b + e] = step;
    }
  }
  return steps;
}

TEST_P(KQuantError, RmsAndPerElementBounds) {
  const auto [t, max_rel_rms] = GetParam();
  const size_t n = 256 * 64;
  const auto x = test::random_normal(n, 31);
  std::vector<uint8_t> q;
  const auto y = test::round_trip(t, x, &q);
  double se = 0, sx = 0;
  for (size_t i = 0; i < n; ++i) {
    se += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
    sx += static_cast<double>(x[i]) * x[i];
  }
  const double rel_rms = std::sqrt(se / sx);
  EXPECT_LT(rel_rms, max_rel_rms);
  std::printf("[ info ] %s relative RMS error %.4f\n", tensor_type_name(t).data(), rel_rms);
  // Inside its sub-block's range an element is off by at most half a step; the coarse 6/8-bit
  // sub-block scales may leave the extremes just outside the range, where the clamp costs up
  // to a further step.
  const auto steps = element_steps(t, q, n);
  for (size_t i = 0; i < n; ++i)
    ASSERT_LE(std::fabs(static_cast<double>(y[i]) - x[i]), 1.5 * steps[i] + 1e-6) << i;
}

INSTANTIATE_TEST_SUITE_P(Types, KQuantError,
                         ::testing::Values(KQuantCase{TensorType::Q4_K, 0.10}, KQuantCase{TensorType::Q5_K, 0.05},
                                           KQuantCase{TensorType::Q6_K, 0.025}),
                         [](const auto& info) { return test::param_name(info.param.type); });

// ---- awkward inputs: every weight type writes blocks that decode to finite values near x ----

class AwkwardInputs : public ::testing::TestWithParam<TensorType> {};

TEST_P(AwkwardInputs, DecodeFiniteAndClose) {
  const TensorType t = GetParam();
  const int64_t be = test::block_elems(t);
  const int64_t n = std::max<int64_t>(be, 256);
  struct Input {
    const char* name;
    std::vector<float> x;
  };
  std::vector<Input> inputs;
  inputs.push_back({"zeros", std::vector<float>(n, 0.0f)});
  inputs.push_back({"constant", std::vector<float>(n, 0.75f)});
  inputs.push_back({"negative constant", std::vector<float>(n, -3.0f)});
  std::vector<float> spike(n, 0.0f);
  spike[n / 3] = 100.0f;
  inputs.push_back({"spike", spike});
  auto neg = test::random_normal(n, 41);
  for (auto& v : neg) v = -std::fabs(v) - 1.0f;
  inputs.push_back({"all negative", neg});
  auto pos = test::random_normal(n, 42);
  for (auto& v : pos) v = std::fabs(v) + 1.0f;
  inputs.push_back({"all positive", pos});
  inputs.push_back({"tiny", test::random_normal(n, 43, 1e-4f)});
  inputs.push_back({"large", test::random_normal(n, 44, 300.0f)});
  for (const auto& [name, x] : inputs) {
    const auto y = test::round_trip(t, x);
    double amax = 0;
    for (float v : x) amax = std::max(amax, static_cast<double>(std::fabs(v)));
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << name << " element " << i;
      // A loose, format-independent sanity bound: 4-bit formats are within ~1/7 of the range.
      ASSERT_LE(std::fabs(static_cast<double>(y[i]) - x[i]), 0.2 * amax + 1e-6) << name << " element " << i;
      if (amax == 0) {
        ASSERT_EQ(y[i], 0.0f) << name;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, AwkwardInputs, ::testing::ValuesIn(test::all_kernel_types()),
                         [](const auto& info) { return test::param_name(info.param); });

}  // namespace
}  // namespace strata::cpu
