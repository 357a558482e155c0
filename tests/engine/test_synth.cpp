// `synthesize_model` in every tensor type: the file loads, generates, and its weights read back
// as the values the synthesizer drew (compared with an f32 synthesis of the same seed).
#include <gtest/gtest.h>

#include <cmath>

#include "engine/core/error.h"
#include "engine/decode/decoder.h"
#include "engine/gguf/gguf_file.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "engine/model/synth.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/sampler/sampler.h"
#include "engine/threads/thread_pool.h"
#include "kernels/cpu/kernels.h"
#include "tests/support/test_paths.h"
#include "tests/support/synth_shape.h"

namespace strata {
namespace {

const PluginRegistry& plugins() {
  static const PluginRegistry r = PluginRegistry::load_default();
  return r;
}

SynthSpec small_spec(TensorType type) {
  SynthSpec s = test::synth_shape(256, 2, 4, 2, 512, 512);
  s.type = type;
  s.output_type = type;
  s.seed = 7;
  return s;
}

std::vector<float> dequantized(const gguf::TensorInfo& t) {
  std::vector<float> out(t.n_elements());
  const int64_t cols = t.dims[0];
  const uint64_t rb = row_bytes(t.type, cols);
  for (int64_t r = 0; r < t.n_rows(); ++r) cpu::reference_kernels(t.type).to_float(t.data + r * rb, out.data() + r * cols, cols);
  return out;
}

class SynthTypes : public ::testing::TestWithParam<TensorType> {};

TEST_P(SynthTypes, LoadsGeneratesAndReadsBack) {
  const TensorType type = GetParam();
  const auto dir = test::temp_dir("synth");
  const auto path = dir / "model.gguf";
  const auto ref_path = dir / "model-f32.gguf";
  synthesize_model(small_spec(type), path);
  synthesize_model(small_spec(TensorType::F32), ref_path);

  // Round trip: every matrix reads back as the drawn values, within the type's rounding.
  auto file = gguf::GgufFile::open(path);
  auto ref = gguf::GgufFile::open(ref_path);
  ASSERT_EQ(file.tensors().size(), ref.tensors().size());
  for (const auto& t : file.tensors()) {
    const auto* r = ref.find_tensor(t.name);
    ASSERT_NE(r, nullptr) << t.name;
    ASSERT_EQ(t.dims, r->dims) << t.name;
    if (t.dims.size() == 1) continue;  // norms are f32 in both
    EXPECT_EQ(t.type, type) << t.name;
    const auto a = dequantized(t), b = dequantized(*r);
    double err = 0, norm = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      err += (a[i] - b[i]) * double(a[i] - b[i]);
      norm += double(b[i]) * b[i];
    }
    const double rel = std::sqrt(err / norm);
    // Relative RMS error of uniform data: 8-bit ~0.5%, 5-bit ~3%, 4-bit ~8%; f16/bf16 tiny.
    const double bound = type == TensorType::F32 ? 0 : (type == TensorType::F16 ? 1e-3 : type == TensorType::BF16 ? 5e-3
                                                    : type == TensorType::Q8_0 ? 0.01 : 0.12);
    EXPECT_LE(rel, bound) << t.name << " in " << tensor_type_name(type);
  }

  // Loads and generates: finite logits, deterministic greedy tokens.
  auto model = Model::load(path, plugins());
  const auto& d = model->desc();
  EXPECT_EQ(d.n_layer, 2u);
  EXPECT_EQ(d.n_head_kv, 2u);
  ThreadPool pool(2);
  Decoder decoder(*model, pool);
  std::vector<float> logits(d.n_vocab);
  std::vector<int32_t> first, second;
  for (auto* out : {&first, &second}) {
    SequenceKvCache kv({int(d.n_layer), int(d.n_head_kv), int(d.head_dim)}, 64);
    auto prompt = model->tokenizer().encode("Hello world", true, false);
    decoder.forward(prompt, kv, logits);
    for (int i = 0; i < 8; ++i) {
      for (float x : logits) ASSERT_TRUE(std::isfinite(x));
      int32_t t = argmax(logits);
      out->push_back(t);
      decoder.forward(std::span<const int32_t>(&t, 1), kv, logits);
    }
  }
  EXPECT_EQ(first, second);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SynthTypes,
                         ::testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0,
                                           TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                                           TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K),
                         [](const auto& info) { return std::string(tensor_type_name(info.param)); });

TEST(Synth, RejectsShapesThatDoNotFitTheType) {
  auto s = small_spec(TensorType::Q4_K);
  s.dim = 96;
  s.heads = 4;
  try {
    synthesize_model(s, test::temp_dir("synth-bad") / "x.gguf");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("q4_K"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata
