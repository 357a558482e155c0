// Prefill GEMM (kernels/cpu/gemm.h): at every level, packed panels times packed activations agree
// with the scalar reference vec_dot of every (row, token), over random shapes whose row and token
// counts are not multiples of the tile (8 or 16 rows x 4 or 8 tokens), on quantized and on random weight
// bytes (with tamed scales; F16 and BF16: every element), block types and F16 / BF16 alike;
// outputs outside the tile's rows stay untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu/gemm.h"
#include "tests/kernels/kernel_test_util.h"

namespace strata::cpu {
namespace {

const std::vector<TensorType>& gemm_types() {
  static const std::vector<TensorType> t = {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0, TensorType::Q4_K,
                                            TensorType::Q5_K, TensorType::Q6_K, TensorType::F16,  TensorType::BF16};
  return t;
}

// Elements per scale group of the packed layout (gemm_layout.h); the float layout adds pairs in
// each lane (gemm_float_layout.h), k / 2 terms, within the bound of the reference's own k terms.
int64_t group_of(TensorType t) { return t == TensorType::Q6_K ? 16 : 32; }

struct Problem {
  int64_t rows, tokens, k;
  std::vector<uint8_t> w;   // rows x row_bytes(t, k)
  std::vector<float> x;     // tokens x k
};

// Overwrites the fp16 scales of every block with values in [-2, 2], so random bytes decode to
// finite, modest weights.
void tame_scales(TensorType t, uint8_t* row, int64_t k, std::mt19937& rng) {
  const size_t bb = traits_of(t).block_bytes;
  std::uniform_real_distribution<float> scale(-2.0f, 2.0f);
  std::vector<size_t> offsets = t == TensorType::Q6_K ? std::vector<size_t>{208}
                                : (t == TensorType::Q4_K || t == TensorType::Q5_K) ? std::vector<size_t>{0, 2}
                                                                                   : std::vector<size_t>{0};
  for (int64_t b = 0; b < k / test::block_elems(t); ++b)
    for (size_t off : offsets) {
      const float v = scale(rng);
      uint8_t h[2];
      reference_kernels(TensorType::F16).from_float(&v, h, 1);
      std::memcpy(row + bb * b + off, h, 2);
    }
}

Problem make_problem(TensorType t, int64_t rows, int64_t tokens, int64_t k, bool random_bytes, uint32_t seed) {
  Problem p{rows, tokens, k, {}, test::random_normal(static_cast<size_t>(tokens * k), seed + 1)};
  const uint64_t rb = row_bytes(t, static_cast<uint64_t>(k));
  p.w.resize(rb * rows);
  std::mt19937 rng(seed);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = p.w.data() + r * rb;
    if (random_bytes) {
      for (uint64_t i = 0; i < rb; ++i) row[i] = static_cast<uint8_t>(rng());
      tame_scales(t, row, k, rng);
    } else {
      const auto src = test::random_varied(static_cast<size_t>(k), 32, seed + 7 * static_cast<uint32_t>(r));
      reference_kernels(t).from_float(src.data(), row, k);
    }
  }
  return p;
}

// Runs the GEMM the way MatMul does: pack every token, then the panels of 8 rows, one tile call
// per panel over all tokens, or with `pairs` one tile_pair call per two adjacent panels (packed
// one after the other) and tile for an odd last one. y is tokens x y_stride; y_stride > rows
// leaves a column of sentinels.
std::vector<float> run_gemm(const GemmKernels& g, const Problem& p, int64_t y_stride, bool pairs) {
  const uint64_t bb = g.act_bytes(p.k), rb = p.w.size() / p.rows;
  const int64_t B = kGemmBlockTokens, blocks = (p.tokens + B - 1) / B;
  std::vector<uint8_t> acts(bb * blocks);
  for (int64_t b = 0; b < blocks; ++b)
    g.pack_act(p.x.data() + b * B * p.k, p.k, static_cast<int>(std::min(B, p.tokens - b * B)), p.k, acts.data() + b * bb);
  const uint64_t pb = g.panel_bytes(p.k);
  std::vector<uint8_t> panels(2 * pb);
  std::vector<float> y(static_cast<size_t>(p.tokens * y_stride), -12345.0f);
  for (int64_t r0 = 0; r0 < p.rows;) {
    const bool pair = pairs && r0 + kGemmPanelRows < p.rows;
    const int rows = static_cast<int>(std::min<int64_t>(kGemmPanelRows * (pair ? 2 : 1), p.rows - r0));
    for (int i = 0; i * kGemmPanelRows < rows; ++i) {
      const int in_panel = std::min(kGemmPanelRows, rows - i * kGemmPanelRows);
      g.pack_panel(p.w.data() + (r0 + i * kGemmPanelRows) * rb, rb, in_panel, p.k, panels.data() + i * pb);
    }
    (pair ? g.tile_pair : g.tile)(panels.data(), rows, p.k, acts.data(), static_cast<int>(p.tokens), y.data() + r0,
                                  y_stride);
    r0 += rows;
  }
  return y;
}

void check_outputs(const std::string& level, TensorType t, const Problem& p, const std::vector<float>& y,
                   int64_t y_stride, bool pairs) {
  const TensorType a = vec_dot_type(t);
  const uint64_t rb = p.w.size() / p.rows, xb = row_bytes(a, static_cast<uint64_t>(p.k));
  std::vector<uint8_t> xq(xb);
  std::vector<float> wf(p.k), xf(p.k);
  // Tolerance relative to sum |w x|: the reference rounds once per block (plus a few), the GEMM
  // adds one or two float terms per group of G elements in one lane: (2 k / G + 16) roundings,
  // each at most 2^-24 of the magnitudes, plus the reference's own (k / block + 8).
  const double bound = (2.0 * p.k / group_of(t) + 16 + p.k / test::block_elems(t) + 8) * 0x1p-24;
  for (int64_t tok = 0; tok < p.tokens; ++tok) {
    reference_kernels(a).from_float(p.x.data() + tok * p.k, xq.data(), p.k);
    reference_kernels(a).to_float(xq.data(), xf.data(), p.k);
    for (int64_t r = 0; r < p.rows; ++r) {
      const uint8_t* wr = p.w.data() + r * rb;
      reference_kernels(t).to_float(wr, wf.data(), p.k);
      double sum_abs = 0;
      for (int64_t i = 0; i < p.k; ++i) sum_abs += std::fabs(static_cast<double>(wf[i]) * xf[i]);
      const float ref = reference_kernels(t).vec_dot(p.k, wr, xq.data());
      ASSERT_NEAR(y[tok * y_stride + r], ref, bound * sum_abs + 1e-30)
          << level << (pairs ? " (tile_pair)" : "") << " " << tensor_type_name(t) << " rows=" << p.rows
          << " tokens=" << p.tokens << " k=" << p.k << " at row " << r << " token " << tok;
    }
    for (int64_t r = p.rows; r < y_stride; ++r) ASSERT_EQ(y[tok * y_stride + r], -12345.0f) << "wrote past the rows";
  }
}

void check(const std::string& level, TensorType t, const Problem& p) {
  const GemmKernels* g = gemm_kernels_at_level(t, level);
  ASSERT_NE(g, nullptr);
  const int64_t y_stride = p.rows + 3;
  // Panel by panel; and where the level has a wider tile, two panels at a time.
  for (bool pairs : {false, true}) {
    if (pairs && g->tile_pair == nullptr) continue;
    check_outputs(level, t, p, run_gemm(*g, p, y_stride, pairs), y_stride, pairs);
  }
}

class Gemm : public ::testing::TestWithParam<std::tuple<std::string, TensorType>> {};

TEST_P(Gemm, MatchesReferenceVecDotOnRaggedShapes) {
  const auto& [level, t] = GetParam();
  if (kernels_at_level(t, level) == nullptr) GTEST_SKIP() << "this CPU (or STRATA_CPU) has no " << level << " level";
  if (gemm_kernels_at_level(t, level) == nullptr) GTEST_SKIP() << level << " has no GEMM for " << tensor_type_name(t);
  std::mt19937 rng(900 + static_cast<uint32_t>(t));
  // Float types (one element a block) take 33 elements a unit: odd lengths that end mid-pair.
  const int64_t be = test::block_elems(t) > 1 ? test::block_elems(t) : 33;
  // Fixed edge shapes (one row, one token, exact tiles) and random ones.
  std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {{1, 1, 1}, {8, 8, 2}, {8, 4, 1}, {9, 9, 3}, {7, 17, 2}, {24, 9, be == 32 ? 64 : 8},
                                                                {16, 16, 2}};
  for (int i = 0; i < 8; ++i) shapes.emplace_back(1 + rng() % 27, 1 + rng() % 21, 1 + rng() % (be == 32 ? 40 : 6));
  uint32_t seed = 1;
  for (const auto& [rows, tokens, blocks] : shapes) {
    check(level, t, make_problem(t, rows, tokens, blocks * be, false, seed++));
    check(level, t, make_problem(t, rows, tokens, blocks * be, true, seed++));
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, Gemm,
                         ::testing::Combine(::testing::Values("reference", "avx2", "avx512"),
                                            ::testing::ValuesIn(gemm_types())),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + test::param_name(std::get<1>(info.param));
                         });

TEST(GemmDispatch, CoversTheBlockAndHalfFloatTypesAndNothingElse) {
  for (TensorType t : gemm_types()) EXPECT_NE(gemm_kernels_at_level(t, "reference"), nullptr) << tensor_type_name(t);
  for (TensorType t : {TensorType::F32, TensorType::Q4_1, TensorType::Q8_K})
    EXPECT_EQ(gemm_kernels_at_level(t, "reference"), nullptr) << tensor_type_name(t);
  // vpmaddubsw's int16 pair sums cannot hold Q8_0's u = q + 128 products.
  EXPECT_EQ(gemm_kernels_at_level(TensorType::Q8_0, "avx2"), nullptr);
  // With AVX512_BF16, BF16 takes the vdpbf16ps layout (gemm_bf16_dot.cpp): bf16 activations, half
  // the bytes of the float layout's.
  const GemmKernels* bf16 = gemm_kernels_at_level(TensorType::BF16, "avx512");
  if (bf16 != nullptr && cpu_features().avx512bf16) {
    EXPECT_EQ(bf16->act_bytes(64), gemm_kernels_at_level(TensorType::BF16, "reference")->act_bytes(64) / 2);
  }
  // The chosen level's table is the one gemm_kernels_for hands out.
  for (TensorType t : gemm_types())
    EXPECT_EQ(gemm_kernels_for(t), gemm_kernels_at_level(t, kernel_level_name())) << tensor_type_name(t);
}

}  // namespace
}  // namespace strata::cpu
