// f16 and bf16 conversions: exhaustive over all 65536 encodings, plus rounding cases.
#include "kernels/cpu/fp16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <random>

#include "tests/kernels/kernel_test_util.h"

namespace strata::cpu {
namespace {

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }
float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

TEST(Fp16, DecodesEveryEncodingAsDefined) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float got = fp16_to_fp32(static_cast<uint16_t>(h));
    const uint32_t sign = (h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 31, m = h & 1023;
    if (e == 31 && m != 0) {  // NaN: payload moves to the top of the float mantissa
      EXPECT_EQ(bits(got), sign | 0x7F800000u | (m << 13)) << std::hex << h;
      continue;
    }
    const float expected = test::half_value(static_cast<uint16_t>(h));
    EXPECT_EQ(bits(got), bits(expected)) << "h=0x" << std::hex << h;
  }
}

TEST(Fp16, EveryEncodingRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h)));
    const bool nan = ((h >> 10) & 31) == 31 && (h & 1023) != 0;
    if (nan)  // a signalling NaN comes back quiet; sign and payload stay
      EXPECT_EQ(back, h | 0x200u) << std::hex << h;
    else
      EXPECT_EQ(back, h) << std::hex << h;
  }
}

TEST(Fp16, RoundsToNearestEven) {
  struct Case {
    float in;
    uint16_t out;
  };
  const Case cases[] = {
      {1.0f, 0x3C00},
      {1.0f + 0x1p-11f, 0x3C00},        // halfway between 1 and 1 + 2^-10: to even (1)
      {1.0f + 3 * 0x1p-11f, 0x3C02},    // halfway between odd and even: up to even
      {1.0f + 0x1p-11f + 0x1p-20f, 0x3C01},  // just above halfway
      {-2.0f, 0xC000},
      {65504.0f, 0x7BFF},                // largest half
      {65519.996f, 0x7BFF},              // just below the overflow tie
      {65520.0f, 0x7C00},                // the tie overflows to infinity (even)
      {1e10f, 0x7C00},
      {-INFINITY, 0xFC00},
      {0x1p-14f, 0x0400},                // smallest normal
      {0x1p-24f, 0x0001},                // smallest subnormal
      {0x1p-25f, 0x0000},                // half of it: tie to even, 0
      {0x1p-25f * 1.0000001f, 0x0001},   // just above: up
      {3 * 0x1p-25f, 0x0002},            // 1.5 ulps: tie to even, 2
      {0x1p-14f - 0x1p-25f, 0x0400},     // between the largest subnormal and 2^-14: to even
      {1e-10f, 0x0000},
      {-0.0f, 0x8000},
      {-0x1p-24f, 0x8001},
  };
  for (const auto& c : cases) EXPECT_EQ(fp32_to_fp16(c.in), c.out) << c.in;
}

TEST(Fp16, RandomFloatsGoToTheNearestHalf) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 200000; ++i) {
    // Floats of magnitude around the half range: exponents -30..17.
    uint32_t u = any(rng);
    u = (u & 0x807FFFFFu) | (static_cast<uint32_t>(97 + (u >> 23) % 48) << 23);
    const float x = from_bits(u);
    const uint16_t h = fp32_to_fp16(x);
    if ((h & 0x7FFF) == 0x7C00) {  // overflow: only at or past the tie above 65504
      EXPECT_GE(std::fabs(x), 65520.0f);
      continue;
    }
    const double v = fp16_to_fp32(h);
    const double err = std::fabs(v - x);
    // Both neighbours of h (towards and away from zero) are no closer.
    const uint16_t up = static_cast<uint16_t>(h + 1), down = static_cast<uint16_t>(h - 1);
    if ((up & 0x7FFF) < 0x7C00) {
      const double e_up = std::fabs(static_cast<double>(fp16_to_fp32(up)) - x);
      EXPECT_TRUE(err < e_up || (err == e_up && (h & 1) == 0)) << x;
    }
    if ((h & 0x7FFF) != 0) {
      const double e_down = std::fabs(static_cast<double>(fp16_to_fp32(down)) - x);
      EXPECT_TRUE(err < e_down || (err == e_down && (h & 1) == 0)) << x;
    }
  }
}

TEST(Fp16, NanStaysNan) {
  EXPECT_EQ(fp32_to_fp16(from_bits(0x7FC00000u)), 0x7E00);
  EXPECT_EQ(fp32_to_fp16(from_bits(0xFF800001u)), 0xFE00);  // signalling: quieted, sign kept
  EXPECT_EQ(fp32_to_fp16(from_bits(0x7FFFFFFFu)), 0x7FFF);
}

TEST(Bf16, EveryEncodingRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_fp32(static_cast<uint16_t>(h));
    EXPECT_EQ(bits(f), h << 16);
    const bool nan = ((h >> 7) & 0xFF) == 0xFF && (h & 0x7F) != 0;
    EXPECT_EQ(fp32_to_bf16(f), nan ? (h | 0x40u) : h) << std::hex << h;
  }
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(1.0f + 0x1p-8f), 0x3F80);           // tie: to even
  EXPECT_EQ(fp32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);       // tie: up to even
  EXPECT_EQ(fp32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);
  EXPECT_EQ(fp32_to_bf16(-1.0f - 0x1p-8f - 0x1p-20f), 0xBF81);
  EXPECT_EQ(fp32_to_bf16(FLT_MAX), 0x7F80);                  // rounds past the largest: infinity
  EXPECT_EQ(fp32_to_bf16(INFINITY), 0x7F80);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x00000001u)), 0x0000);   // tiny subnormal: 0
  EXPECT_EQ(fp32_to_bf16(from_bits(0x00018000u)), 0x0002);   // subnormal tie: to even
  EXPECT_EQ(fp32_to_bf16(from_bits(0x7F800001u)), 0x7FC0);   // signalling NaN quieted
}

}  // namespace
}  // namespace strata::cpu
