// Hand-built blocks: bytes written here from the format definitions (as in ggml's block
// structs), decoded values computed here, then checked against to_float of every level. Nothing
// of the code under test is used to build or to predict the values.
#include <gtest/gtest.h>

#include <cstring>

#include "kernels/cpu/quant_blocks.h"
#include "tests/kernels/kernel_test_util.h"

namespace strata::cpu {
namespace {

using test::half_value;

constexpr uint16_t kHalf0_5 = 0x3800, kHalf0_25 = 0x3400, kHalfMinus1 = 0xBC00, kHalf1_5 = 0x3E00;

void put_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xFF);
  p[1] = static_cast<uint8_t>(v >> 8);
}

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Checks to_float of every available level against `expected`.
void expect_decodes_to(TensorType t, const std::vector<uint8_t>& bytes, const std::vector<float>& expected) {
  ASSERT_EQ(bytes.size(), row_bytes(t, expected.size()));
  for (const char* level : {"reference", "avx2", "avx512"}) {
    const TypeKernels* k = kernels_at_level(t, level);
    if (k == nullptr) continue;
    std::vector<float> got(expected.size());
    k->to_float(bytes.data(), got.data(), static_cast<int64_t>(expected.size()));
    for (size_t i = 0; i < expected.size(); ++i)
      ASSERT_EQ(got[i], expected[i]) << tensor_type_name(t) << " level " << level << " element " << i;
  }
}

TEST(HandBuiltBlocks, SizesMatchTheTypeTable) {
  EXPECT_EQ(sizeof(BlockQ4_0), traits_of(TensorType::Q4_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_1), traits_of(TensorType::Q4_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_0), traits_of(TensorType::Q5_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_1), traits_of(TensorType::Q5_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_0), traits_of(TensorType::Q8_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_1), traits_of(TensorType::Q8_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_K), traits_of(TensorType::Q4_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_K), traits_of(TensorType::Q5_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ6_K), traits_of(TensorType::Q6_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_K), traits_of(TensorType::Q8_K).block_bytes);
  for (TensorType t : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                       TensorType::Q8_1})
    EXPECT_EQ(traits_of(t).block_elems, 32u);
  for (TensorType t : {TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::Q8_K})
    EXPECT_EQ(traits_of(t).block_elems, 256u);
}

TEST(HandBuiltBlocks, F16AndBf16) {
  // f16: 1, -2, 1/3 rounded, 65504, smallest subnormal, -0.
  const uint16_t h[] = {0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001, 0x8000};
  const float hv[] = {1.0f, -2.0f, 0.333251953125f, 65504.0f, 0x1p-24f, -0.0f};
  std::vector<uint8_t> b(sizeof h);
  std::memcpy(b.data(), h, sizeof h);
  expect_decodes_to(TensorType::F16, b, std::vector<float>(hv, hv + 6));
  // bf16: 1, -2, 3.140625, 2^-126.
  const uint16_t g[] = {0x3F80, 0xC000, 0x4049, 0x0080};
  const float gv[] = {1.0f, -2.0f, 3.140625f, 0x1p-126f};
  std::vector<uint8_t> c(sizeof g);
  std::memcpy(c.data(), g, sizeof g);
  expect_decodes_to(TensorType::BF16, c, std::vector<float>(gv, gv + 4));
}

// Q4_0: {fp16 d; 16 bytes}: element j < 16 is the low nibble of byte j, element 16 + j the high
// nibble; x = d * (q - 8).
TEST(HandBuiltBlocks, Q4_0) {
  std::vector<uint8_t> b(18);
  put_u16(b.data(), kHalf0_5);
  std::vector<float> expected(32);
  for (int j = 0; j < 16; ++j) {
    const int lo = j, hi = 15 - j;
    b[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
    expected[j] = 0.5f * static_cast<float>(lo - 8);
    expected[16 + j] = 0.5f * static_cast<float>(hi - 8);
  }
  expect_decodes_to(TensorType::Q4_0, b, expected);
}

// Q4_1: {fp16 d; fp16 m; 16 bytes}: x = d * q + m.
TEST(HandBuiltBlocks, Q4_1) {
  std::vector<uint8_t> b(20);
  put_u16(b.data(), kHalf0_25);
  put_u16(b.data() + 2, kHalfMinus1);
  std::vector<float> expected(32);
  for (int j = 0; j < 16; ++j) {
    const int lo = (3 * j + 1) % 16, hi = (5 * j + 2) % 16;
    b[4 + j] = static_cast<uint8_t>(lo | (hi << 4));
    expected[j] = 0.25f * static_cast<float>(lo) - 1.0f;
    expected[16 + j] = 0.25f * static_cast<float>(hi) - 1.0f;
  }
  expect_decodes_to(TensorType::Q4_1, b, expected);
}

// Q5_0: {fp16 d; uint32 qh; 16 bytes}: bit 4 of element j is bit j of qh; x = d * (q - 16).
TEST(HandBuiltBlocks, Q5_0) {
  std::vector<uint8_t> b(22);
  put_u16(b.data(), kHalf1_5);
  const uint32_t qh = 0xA5C3F00Fu;
  put_u32(b.data() + 2, qh);
  std::vector<float> expected(32);
  for (int j = 0; j < 16; ++j) {
    const int lo = (7 * j + 3) % 16, hi = (11 * j + 5) % 16;
    b[6 + j] = static_cast<uint8_t>(lo | (hi << 4));
    const int q0 = lo + 16 * static_cast<int>((qh >> j) & 1);
    const int q1 = hi + 16 * static_cast<int>((qh >> (j + 16)) & 1);
    expected[j] = 1.5f * static_cast<float>(q0 - 16);
    expected[16 + j] = 1.5f * static_cast<float>(q1 - 16);
  }
  expect_decodes_to(TensorType::Q5_0, b, expected);
}

// Q5_1: {fp16 d; fp16 m; uint32 qh; 16 bytes}: x = d * q + m.
TEST(HandBuiltBlocks, Q5_1) {
  std::vector<uint8_t> b(24);
  put_u16(b.data(), kHalf0_5);
  put_u16(b.data() + 2, kHalf1_5);
  const uint32_t qh = 0x0F0F5A5Au;
  put_u32(b.data() + 4, qh);
  std::vector<float> expected(32);
  for (int j = 0; j < 16; ++j) {
    const int lo = (9 * j + 1) % 16, hi = (13 * j + 7) % 16;
    b[8 + j] = static_cast<uint8_t>(lo | (hi << 4));
    const int q0 = lo + 16 * static_cast<int>((qh >> j) & 1);
    const int q1 = hi + 16 * static_cast<int>((qh >> (j + 16)) & 1);
    expected[j] = 0.5f * static_cast<float>(q0) + 1.5f;
    expected[16 + j] = 0.5f * static_cast<float>(q1) + 1.5f;
  }
  expect_decodes_to(TensorType::Q5_1, b, expected);
}

// Q8_0: {fp16 d; 32 int8}: x = d * q. Q8_1: {fp16 d; fp16 s; 32 int8}.
TEST(HandBuiltBlocks, Q8_0AndQ8_1) {
  std::vector<uint8_t> b(34), c(36);
  put_u16(b.data(), kHalf0_25);
  put_u16(c.data(), kHalf1_5);
  put_u16(c.data() + 2, 0x0000);
  std::vector<float> eb(32), ec(32);
  for (int j = 0; j < 32; ++j) {
    const int q = j * 8 - 127;  // -127 .. 121
    b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
    c[4 + j] = static_cast<uint8_t>(static_cast<int8_t>(-q));
    eb[j] = 0.25f * static_cast<float>(q);
    ec[j] = 1.5f * static_cast<float>(-q);
  }
  expect_decodes_to(TensorType::Q8_0, b, eb);
  expect_decodes_to(TensorType::Q8_1, c, ec);
}

// Q4_K: {fp16 d; fp16 dmin; 12 bytes scales; 128 bytes qs}. The 8 sub-block scales/mins
// sc = {1, 2, 3, 63, 17, 32, 48, 5}, m = {0, 1, 62, 7, 33, 16, 63, 9} packed by hand:
//   bytes 0-3  sc[k] | (sc[k+4] >> 4) << 6   -> 0x41 0x82 0xC3 0x3F
//   bytes 4-7  m[k]  | (m[k+4] >> 4) << 6    -> 0x80 0x41 0xFE 0x07
//   bytes 8-11 (sc[k+4] & 15) | (m[k+4] & 15) << 4 -> 0x11 0x00 0xF0 0x95
// qs[32c + l]: low nibble element 64c + l, high nibble element 64c + 32 + l.
const int kScK[8] = {1, 2, 3, 63, 17, 32, 48, 5};
const int kMinK[8] = {0, 1, 62, 7, 33, 16, 63, 9};
const uint8_t kPackedScalesK[12] = {0x41, 0x82, 0xC3, 0x3F, 0x80, 0x41, 0xFE, 0x07, 0x11, 0x00, 0xF0, 0x95};

TEST(HandBuiltBlocks, Q4_K) {
  std::vector<uint8_t> b(144);
  put_u16(b.data(), kHalf0_5);
  put_u16(b.data() + 2, kHalf0_25);
  std::memcpy(b.data() + 4, kPackedScalesK, 12);
  auto q = [](int e) { return (e * 7 + 3) % 16; };
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b[16 + 32 * c + l] = static_cast<uint8_t>(q(64 * c + l) | (q(64 * c + 32 + l) << 4));
  std::vector<float> expected(256);
  for (int e = 0; e < 256; ++e)
    expected[e] = 0.5f * static_cast<float>(kScK[e / 32] * q(e)) - 0.25f * static_cast<float>(kMinK[e / 32]);
  expect_decodes_to(TensorType::Q4_K, b, expected);
}

// Q5_K: {fp16 d; fp16 dmin; 12 bytes scales; 32 bytes qh; 128 bytes qs}: bit 4 of element
// 64c + l is bit 2c of qh[l], of element 64c + 32 + l bit 2c + 1.
TEST(HandBuiltBlocks, Q5_K) {
  std::vector<uint8_t> b(176);
  put_u16(b.data(), kHalf0_25);
  put_u16(b.data() + 2, kHalf1_5);
  std::memcpy(b.data() + 4, kPackedScalesK, 12);
  auto q = [](int e) { return (e * 11 + 5) % 32; };
  uint8_t* qh = b.data() + 16;
  uint8_t* qs = b.data() + 48;
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int v0 = q(64 * c + l), v1 = q(64 * c + 32 + l);
      qs[32 * c + l] = static_cast<uint8_t>((v0 & 15) | ((v1 & 15) << 4));
      qh[l] = static_cast<uint8_t>(qh[l] | ((v0 >> 4) << (2 * c)) | ((v1 >> 4) << (2 * c + 1)));
    }
  std::vector<float> expected(256);
  for (int e = 0; e < 256; ++e)
    expected[e] = 0.25f * static_cast<float>(kScK[e / 32] * q(e)) - 1.5f * static_cast<float>(kMinK[e / 32]);
  expect_decodes_to(TensorType::Q5_K, b, expected);
}

// Q6_K: {128 bytes ql; 64 bytes qh; 16 int8 scales; fp16 d}; x = d * scales[e / 16] * (q - 32).
// Half h covers elements 128h..128h+127 with ql + 64h and qh + 32h; for l < 32 the four elements
// l, 32 + l, 64 + l, 96 + l take the low nibble of ql[l], low of ql[32 + l], high of ql[l], high
// of ql[32 + l], and bits 0-1, 2-3, 4-5, 6-7 of qh[l].
TEST(HandBuiltBlocks, Q6_K) {
  std::vector<uint8_t> b(210);
  const int8_t scales[16] = {-128, 127, -1, 1, 5, -7, 64, -64, 0, 3, 100, -100, 9, 10, 11, -12};
  auto q = [](int e) { return (e * 13 + 7) % 64; };
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int base = 128 * h;
      const int v0 = q(base + l), v1 = q(base + 32 + l), v2 = q(base + 64 + l), v3 = q(base + 96 + l);
      b[64 * h + l] = static_cast<uint8_t>((v0 & 15) | ((v2 & 15) << 4));
      b[64 * h + 32 + l] = static_cast<uint8_t>((v1 & 15) | ((v3 & 15) << 4));
      b[128 + 32 * h + l] = static_cast<uint8_t>((v0 >> 4) | ((v1 >> 4) << 2) | ((v2 >> 4) << 4) | ((v3 >> 4) << 6));
    }
  std::memcpy(b.data() + 192, scales, 16);
  put_u16(b.data() + 208, kHalf0_25);
  std::vector<float> expected(256);
  for (int e = 0; e < 256; ++e) expected[e] = 0.25f * static_cast<float>(scales[e / 16] * (q(e) - 32));
  expect_decodes_to(TensorType::Q6_K, b, expected);
}

// Q8_K: {float d; 256 int8; 16 int16 bsums}: x = d * q.
TEST(HandBuiltBlocks, Q8_K) {
  std::vector<uint8_t> b(292);
  const float d = 0.0625f;
  std::memcpy(b.data(), &d, 4);
  std::vector<float> expected(256);
  for (int e = 0; e < 256; ++e) {
    const int q = (e * 37) % 255 - 127;
    b[4 + e] = static_cast<uint8_t>(static_cast<int8_t>(q));
    expected[e] = d * static_cast<float>(q);
  }
  expect_decodes_to(TensorType::Q8_K, b, expected);
}

// Dot products of hand-built rows whose exact value is known: weights from the Q4_K block above
// against a Q8_K activation block with d = 1/8, q = small integers; every product is exact in
// float, so every level must return the exact sum (up to float rounding of the final total).
TEST(HandBuiltBlocks, Q4_KDotProductIsExact) {
  std::vector<uint8_t> w(144);
  put_u16(w.data(), kHalf0_5);
  put_u16(w.data() + 2, kHalf0_25);
  std::memcpy(w.data() + 4, kPackedScalesK, 12);
  auto q = [](int e) { return (e * 7 + 3) % 16; };
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) w[16 + 32 * c + l] = static_cast<uint8_t>(q(64 * c + l) | (q(64 * c + 32 + l) << 4));
  std::vector<uint8_t> x(292);
  const float d = 0.125f;
  std::memcpy(x.data(), &d, 4);
  int8_t qx[256];
  for (int e = 0; e < 256; ++e) {
    qx[e] = static_cast<int8_t>((e * 29) % 41 - 20);
    x[4 + e] = static_cast<uint8_t>(qx[e]);
  }
  for (int k = 0; k < 16; ++k) {
    int s = 0;
    for (int l = 0; l < 16; ++l) s += qx[16 * k + l];
    put_u16(x.data() + 260 + 2 * k, static_cast<uint16_t>(static_cast<int16_t>(s)));
  }
  double exact = 0;
  for (int e = 0; e < 256; ++e)
    exact += (0.5 * kScK[e / 32] * q(e) - 0.25 * kMinK[e / 32]) * (0.125 * qx[e]);
  for (const char* level : {"reference", "avx2", "avx512"}) {
    const TypeKernels* k = kernels_at_level(TensorType::Q4_K, level);
    if (k == nullptr) continue;
    EXPECT_NEAR(k->vec_dot(256, w.data(), x.data()), exact, std::fabs(exact) * 1e-6) << level;
  }
}

}  // namespace
}  // namespace strata::cpu
