// Reading the shared model files.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "tests/support/test_paths.h"

namespace strata::gguf {
namespace {

using strata::test::shared_path;

std::filesystem::path tiny_path() { return shared_path("models/llama-2-tiny-random.gguf"); }

std::vector<uint8_t> read_all(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(GgufRead, TinyLlamaHeaderAndMetadata) {
  const auto f = GgufFile::open(tiny_path());
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.file_size(), 1750560u);
  EXPECT_EQ(f.path(), tiny_path().string());
  EXPECT_EQ(f.metadata().size(), 18u);
  EXPECT_EQ(f.metadata().front().first, "general.architecture");
  EXPECT_EQ(f.metadata().back().first, "tokenizer.ggml.unknown_token_id");

  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_string("general.name"), "LLaMA v2");
  EXPECT_EQ(f.get_u32("llama.embedding_length", 0), 8u);
  EXPECT_EQ(f.get_u32("llama.block_count", 0), 1u);
  EXPECT_EQ(f.get_u32("llama.feed_forward_length", 0), 32u);
  EXPECT_EQ(f.get_u32("llama.attention.head_count", 0), 2u);
  EXPECT_EQ(f.get_u32("llama.attention.head_count_kv", 0), 2u);
  EXPECT_EQ(f.get_u64("llama.context_length", 0), 4096u);
  EXPECT_EQ(f.get_i64("llama.rope.dimension_count", 0), 4);
  EXPECT_FLOAT_EQ(f.get_f32("llama.attention.layer_norm_rms_epsilon", 0), 1e-5f);
  EXPECT_EQ(f.find("llama.attention.layer_norm_rms_epsilon")->type(), ValueType::F32);
  EXPECT_EQ(f.get_u32("general.file_type", 0), 1u);
  EXPECT_EQ(f.find("llama.rope.freq_base"), nullptr);
  EXPECT_FLOAT_EQ(f.get_f32("llama.rope.freq_base", 10000.0f), 10000.0f);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.bos_token_id", 99), 1u);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.eos_token_id", 99), 2u);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.unknown_token_id", 99), 0u);
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_bos_token", true));
  EXPECT_FALSE(f.has("tokenizer.ggml.add_bos_token"));
}

TEST(GgufRead, TinyLlamaVocabulary) {
  const auto f = GgufFile::open(tiny_path());
  const Value* tokens = f.find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  ASSERT_TRUE(tokens->is_array());
  EXPECT_EQ(tokens->array_type(), ValueType::STRING);
  EXPECT_EQ(tokens->size(), 32000u);
  EXPECT_EQ(tokens->string_at(0), "<unk>");
  EXPECT_EQ(tokens->string_at(1), "<s>");
  EXPECT_EQ(tokens->string_at(2), "</s>");
  EXPECT_EQ(tokens->string_at(3), "<0x00>");
  const auto all = tokens->strings();
  ASSERT_EQ(all.size(), 32000u);
  EXPECT_EQ(all[31999], tokens->string_at(31999));

  const Value& scores = f.require("tokenizer.ggml.scores");
  EXPECT_EQ(scores.array_type(), ValueType::F32);
  const auto s = scores.to_f32_vector();
  ASSERT_EQ(s.size(), 32000u);
  EXPECT_EQ(s[0], 0.0f);
  EXPECT_EQ(static_cast<float>(scores.f64_at(31999)), s[31999]);

  const Value& types = f.require("tokenizer.ggml.token_type");
  EXPECT_EQ(types.array_type(), ValueType::I32);
  const auto t = types.to_i32_vector();
  ASSERT_EQ(t.size(), 32000u);
  EXPECT_EQ(t[0], 2);  // unknown
  EXPECT_EQ(t[1], 3);  // control
  EXPECT_EQ(t[3], 6);  // byte
  EXPECT_EQ(types.i64_at(3), 6);
}

TEST(GgufRead, TinyLlamaTensors) {
  const auto f = GgufFile::open(tiny_path());
  ASSERT_EQ(f.tensors().size(), 12u);
  EXPECT_EQ(f.data_offset(), 724416u);

  const TensorInfo* embd = f.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, TensorType::F16);
  EXPECT_EQ(embd->dims, (std::vector<int64_t>{8, 32000}));
  EXPECT_EQ(embd->n_elements(), 256000);
  EXPECT_EQ(embd->n_rows(), 32000);
  EXPECT_EQ(embd->bytes, 512000u);
  EXPECT_EQ(embd->offset, f.data_offset());

  const struct {
    const char* name;
    TensorType type;
    std::vector<int64_t> dims;
  } expected[] = {
      {"output.weight", TensorType::F16, {8, 32000}},     {"blk.0.attn_q.weight", TensorType::F16, {8, 8}},
      {"blk.0.attn_k.weight", TensorType::F16, {8, 8}},   {"blk.0.attn_v.weight", TensorType::F16, {8, 8}},
      {"blk.0.attn_output.weight", TensorType::F16, {8, 8}}, {"blk.0.ffn_gate.weight", TensorType::F16, {8, 32}},
      {"blk.0.ffn_up.weight", TensorType::F16, {8, 32}},  {"blk.0.ffn_down.weight", TensorType::F16, {32, 8}},
      {"blk.0.attn_norm.weight", TensorType::F32, {8}},   {"blk.0.ffn_norm.weight", TensorType::F32, {8}},
      {"output_norm.weight", TensorType::F32, {8}},
  };
  for (const auto& e : expected) {
    SCOPED_TRACE(e.name);
    const TensorInfo* t = f.find_tensor(e.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->type, e.type);
    EXPECT_EQ(t->dims, e.dims);
  }
  EXPECT_EQ(f.find_tensor("blk.1.attn_q.weight"), nullptr);
  EXPECT_THROW(f.require_tensor("nope"), ModelFileError);

  // The mapping holds the file's bytes: compare with a plain read.
  const auto bytes = read_all(tiny_path());
  for (const auto& t : f.tensors()) {
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.offset % f.alignment(), 0u);
    ASSERT_LE(t.offset + t.bytes, bytes.size());
    EXPECT_EQ(std::memcmp(t.data, bytes.data() + t.offset, t.bytes), 0);
    EXPECT_EQ(t.bytes, row_bytes(t.type, t.dims[0]) * t.n_rows());
  }
  // A norm weight is 1 + noise, roughly: a sanity check that the offsets are right.
  const TensorInfo& norm = f.require_tensor("output_norm.weight");
  float w0;
  std::memcpy(&w0, norm.data, sizeof w0);
  EXPECT_TRUE(w0 > -10.0f && w0 < 10.0f) << w0;
}

TEST(GgufRead, MiniLlama2Q4KMTensorTypes) {
  const auto f = GgufFile::open(shared_path("models/mini-llama2-Q4_K_M.gguf"));
  EXPECT_EQ(f.tensors().size(), 39u);
  EXPECT_EQ(f.get_u32("general.file_type", 0), 15u);
  EXPECT_EQ(f.get_u32("llama.embedding_length", 0), 256u);
  EXPECT_EQ(f.get_u32("llama.block_count", 0), 4u);
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_bos_token", false));
  EXPECT_EQ(f.require_tensor("token_embd.weight").type, TensorType::Q4_K);
  EXPECT_EQ(f.require_tensor("token_embd.weight").dims, (std::vector<int64_t>{256, 32000}));
  EXPECT_EQ(f.require_tensor("output.weight").type, TensorType::Q6_K);
  EXPECT_EQ(f.require_tensor("output_norm.weight").type, TensorType::F32);
  for (int l = 0; l < 4; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    SCOPED_TRACE(p);
    const TensorType v_down = l >= 2 ? TensorType::Q6_K : TensorType::Q4_K;
    EXPECT_EQ(f.require_tensor(p + "attn_q.weight").type, TensorType::Q4_K);
    EXPECT_EQ(f.require_tensor(p + "attn_k.weight").type, TensorType::Q4_K);
    EXPECT_EQ(f.require_tensor(p + "attn_v.weight").type, v_down);
    EXPECT_EQ(f.require_tensor(p + "attn_output.weight").type, TensorType::Q4_K);
    EXPECT_EQ(f.require_tensor(p + "ffn_gate.weight").type, TensorType::Q4_K);
    EXPECT_EQ(f.require_tensor(p + "ffn_up.weight").type, TensorType::Q4_K);
    EXPECT_EQ(f.require_tensor(p + "ffn_down.weight").type, v_down);
    EXPECT_EQ(f.require_tensor(p + "ffn_down.weight").dims, (std::vector<int64_t>{768, 256}));
    EXPECT_EQ(f.require_tensor(p + "attn_k.weight").dims, (std::vector<int64_t>{256, 128}));
    EXPECT_EQ(f.require_tensor(p + "attn_norm.weight").type, TensorType::F32);
  }
}

TEST(GgufRead, OtherSharedModels) {
  const auto q8 = GgufFile::open(shared_path("models/mini-llama2-Q8_0.gguf"));
  for (const auto& t : q8.tensors()) EXPECT_EQ(t.type, t.dims.size() == 2 ? TensorType::Q8_0 : TensorType::F32) << t.name;
  const auto q4 = GgufFile::open(shared_path("models/mini-llama2-Q4_0.gguf"));
  EXPECT_EQ(q4.require_tensor("output.weight").type, TensorType::Q6_K);
  EXPECT_EQ(q4.require_tensor("blk.0.attn_q.weight").type, TensorType::Q4_0);
  const auto l3 = GgufFile::open(shared_path("models/mini-llama3-Q8_0.gguf"));
  EXPECT_EQ(l3.tensors().size(), 21u);
  EXPECT_EQ(l3.find_tensor("output.weight"), nullptr);
  EXPECT_EQ(l3.require_tensor("rope_freqs.weight").dims, (std::vector<int64_t>{16}));
  EXPECT_EQ(l3.require("tokenizer.ggml.tokens").size(), 128256u);
  EXPECT_EQ(l3.get_string("tokenizer.ggml.pre"), "llama-bpe");
}

TEST(GgufRead, VocabOnlyFiles) {
  for (const char* name : {"llama-spm", "llama-bpe", "qwen2", "gpt-2", "phi-3", "falcon", "starcoder"}) {
    SCOPED_TRACE(name);
    const auto f = GgufFile::open(shared_path(std::string("models/vocab/ggml-vocab-") + name + ".gguf"));
    EXPECT_TRUE(f.tensors().empty());
    const Value& tokens = f.require("tokenizer.ggml.tokens");
    EXPECT_EQ(tokens.array_type(), ValueType::STRING);
    EXPECT_GT(tokens.size(), 30000u);
    if (const Value* merges = f.find("tokenizer.ggml.merges")) {
      EXPECT_EQ(merges->array_type(), ValueType::STRING);
      EXPECT_GT(merges->size(), 0u);
    }
  }
  const auto bpe = GgufFile::open(shared_path("models/vocab/ggml-vocab-llama-bpe.gguf"));
  EXPECT_EQ(bpe.require("tokenizer.ggml.tokens").size(), 128256u);
  EXPECT_EQ(bpe.require("tokenizer.ggml.merges").size(), 280147u);
}

TEST(GgufRead, ParseFromMemoryMatchesOpen) {
  const auto bytes = read_all(tiny_path());
  const auto mem = GgufFile::parse(bytes, "tiny-in-memory");
  const auto file = GgufFile::open(tiny_path());
  EXPECT_EQ(mem.path(), "tiny-in-memory");
  ASSERT_EQ(mem.metadata().size(), file.metadata().size());
  for (size_t i = 0; i < mem.metadata().size(); ++i) {
    EXPECT_EQ(mem.metadata()[i].first, file.metadata()[i].first);
    EXPECT_EQ(mem.metadata()[i].second, file.metadata()[i].second);
  }
  ASSERT_EQ(mem.tensors().size(), file.tensors().size());
  for (size_t i = 0; i < mem.tensors().size(); ++i) {
    EXPECT_EQ(mem.tensors()[i].offset, file.tensors()[i].offset);
    EXPECT_EQ(mem.tensors()[i].data, bytes.data() + mem.tensors()[i].offset);
  }
}

TEST(GgufRead, MoveKeepsTheMappingAlive) {
  auto a = GgufFile::open(tiny_path());
  const TensorInfo* t = a.find_tensor("output_norm.weight");
  const uint8_t* data = t->data;
  std::vector<uint8_t> copy(data, data + t->bytes);
  GgufFile b = std::move(a);
  GgufFile c = GgufFile::open(shared_path("models/vocab/ggml-vocab-llama-spm.gguf"));
  c = std::move(b);
  const TensorInfo* t2 = c.find_tensor("output_norm.weight");
  ASSERT_NE(t2, nullptr);
  EXPECT_EQ(t2->data, data);
  EXPECT_EQ(std::memcmp(t2->data, copy.data(), copy.size()), 0);
  EXPECT_EQ(c.get_string("general.architecture"), "llama");
  static_assert(!std::is_copy_constructible_v<GgufFile>);
  static_assert(std::is_nothrow_move_constructible_v<GgufFile>);
}

TEST(GgufRead, OsErrorsAreIoErrors) {
  try {
    GgufFile::open(strata::test::temp_dir("gguf-io") / "missing.gguf");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_NE(std::string(e.what()).find("missing.gguf"), std::string::npos);
  }
  try {
    GgufFile::open(strata::test::temp_dir("gguf-dir"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
  }
}

TEST(GgufRead, TypeMismatchNamesTheKey) {
  const auto f = GgufFile::open(tiny_path());
  try {
    (void)f.get_u32("general.architecture", 0);
    FAIL() << "no error";
  } catch (const ModelFileError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::ModelFile);
    EXPECT_EQ(e.field(), "metadata 'general.architecture'");
    EXPECT_EQ(e.offset(), 24u);  // the first key-value pair follows the 24-byte header
    EXPECT_NE(msg.find("is string, expected an integer in the range of u32"), std::string::npos) << msg;
    EXPECT_NE(msg.find("llama-2-tiny-random.gguf"), std::string::npos) << msg;
  }
  EXPECT_THROW((void)f.get_string("llama.block_count"), ModelFileError);
  EXPECT_THROW((void)f.require("tokenizer.ggml.tokens").as_string(), ModelFileError);
  EXPECT_THROW((void)f.require("tokenizer.ggml.tokens").to_f32_vector(), ModelFileError);
  EXPECT_THROW((void)f.require("no.such.key"), ModelFileError);
}

}  // namespace
}  // namespace strata::gguf
