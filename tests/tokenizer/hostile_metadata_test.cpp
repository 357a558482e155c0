// Broken or hostile tokenizer metadata must produce an error that names the key, never a crash;
// and the plugins' C entry points must survive bad arguments.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/plugin/metadata_bridge.h"
#include "tests/support/test_paths.h"
#include "tests/tokenizer/tokenizer_test_support.h"

namespace strata::test {
namespace {

// Expects tokenizer creation to fail with a ModelFile error whose message names `key`.
void expect_model_error(const gguf::GgufWriter& w, const std::string& key) {
  try {
    tokenizer_from(w);
    ADD_FAILURE() << "expected an error naming " << key;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::ModelFile) << e.what();
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
}

const strata_tokenizer_api& plugin_api(const char* name) {
  for (const auto& p : plugins().plugins()) {
    if (std::strcmp(p->descriptor().name, name) == 0) return *p->descriptor().tokenizer;
  }
  throw std::runtime_error(std::string("plugin not loaded: ") + name);
}

TEST(HostileMetadata, ScoresShorterThanTokens) {
  auto w = writer_from_vocab("llama-spm");
  w.set_array("tokenizer.ggml.scores", std::vector<float>(100, 0.0f));
  expect_model_error(w, "tokenizer.ggml.scores");
}

TEST(HostileMetadata, TokenTypesLongerThanTokens) {
  auto w = writer_from_vocab("gpt-2");
  w.set_array("tokenizer.ggml.token_type", std::vector<int32_t>(60000, 1));
  expect_model_error(w, "tokenizer.ggml.token_type");
}

TEST(HostileMetadata, SpecialIdsOutOfRange) {
  auto w = writer_from_vocab("llama-spm");
  w.set_u32("tokenizer.ggml.bos_token_id", 32005);
  expect_model_error(w, "tokenizer.ggml.bos_token_id");

  w = writer_from_vocab("llama-bpe");
  w.set_u64("tokenizer.ggml.eos_token_id", std::numeric_limits<uint64_t>::max());
  expect_model_error(w, "tokenizer.ggml.eos_token_id");

  w = writer_from_vocab("qwen2");
  w.set_i32("tokenizer.ggml.fim_pre_token_id", -7);
  expect_model_error(w, "tokenizer.ggml.fim_pre_token_id");
}

TEST(HostileMetadata, WrongTypes) {
  auto w = writer_from_vocab("llama-spm");
  w.set_array("tokenizer.ggml.tokens", std::vector<int32_t>(32000, 5));
  expect_model_error(w, "tokenizer.ggml.tokens");

  w = writer_from_vocab("gpt-2");
  w.set_array("tokenizer.ggml.merges", std::vector<int32_t>{1, 2, 3});
  expect_model_error(w, "tokenizer.ggml.merges");

  w = writer_from_vocab("gpt-2");
  w.set_string("tokenizer.ggml.add_bos_token", "yes please");
  expect_model_error(w, "tokenizer.ggml.add_bos_token");

  w = writer_from_vocab("llama-spm");
  w.set_string("tokenizer.ggml.scores", "high");
  expect_model_error(w, "tokenizer.ggml.scores");
}

TEST(HostileMetadata, MissingArrays) {
  auto w = writer_from_vocab("llama-spm");
  w.remove("tokenizer.ggml.tokens");
  expect_model_error(w, "tokenizer.ggml.tokens");

  w = writer_from_vocab("gpt-2");
  w.remove("tokenizer.ggml.merges");
  expect_model_error(w, "tokenizer.ggml.merges");

  w = writer_from_vocab("llama-spm");
  w.set_string_array("tokenizer.ggml.tokens", std::vector<std::string>{});
  w.remove("tokenizer.ggml.scores");
  w.remove("tokenizer.ggml.token_type");
  expect_model_error(w, "tokenizer.ggml.tokens");
}

TEST(HostileMetadata, AddBosWithoutBos) {
  auto w = writer_from_vocab("gpt-2");
  w.remove("tokenizer.ggml.bos_token_id");
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  expect_model_error(w, "tokenizer.ggml.add_bos_token");
}

TEST(HostileMetadata, OddButUsableVocabularyLoads) {
  // Empty and duplicate token texts, unknown token types, malformed merges, invalid UTF-8.
  gguf::GgufWriter w;
  w.set_string("general.architecture", "gpt2");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt-2");
  std::vector<std::string> tokens = {"", "a", "a", "b", "ab", "\xFF\xFE", "<|x|>", "Ġ"};
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_array("tokenizer.ggml.token_type", std::vector<int32_t>{1, 1, 1, 99, -4, 1, 3, 1});
  w.set_string_array("tokenizer.ggml.merges", std::vector<std::string>{"", " ", "a", "a b", "zz q", "a  b", "ab "});
  const Tokenizer tok = tokenizer_from(w);
  EXPECT_EQ(tok.n_vocab(), 8);
  EXPECT_EQ(tok.encode("ab", false, false), std::vector<int32_t>{4});
  EXPECT_EQ(tok.encode("ab <|x|>", false, true).back(), 6);
  EXPECT_NO_THROW(tok.encode("\xFF zzz \xF0\x9F\x98\x80", true, true));
  EXPECT_EQ(tok.token_attr(3), 0u);  // type 99: undefined, renders as nothing
  EXPECT_EQ(tok.piece(3), "");
  EXPECT_EQ(tok.piece(0), "");
}

TEST(HostileMetadata, SpmWithoutByteTokensUsesUnknown) {
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", std::vector<std::string>{"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a"});
  const Tokenizer tok = tokenizer_from(w);  // no scores, no types: all normal, defaults 1/2/0
  EXPECT_EQ(tok.encode("a\xC3\xA9", false, false), (std::vector<int32_t>{3, 4, 0}));
}

TEST(PluginEntryPoints, SurviveBadArguments) {
  for (const char* name : {"tokenizer-spm", "tokenizer-bpe"}) {
    const strata_tokenizer_api& api = plugin_api(name);
    api.destroy(nullptr);
    strata_plugin_error err{};
    strata_tokenizer* tok = nullptr;
    EXPECT_EQ(api.create(nullptr, &tok, &err), STRATA_PLUGIN_EINVAL) << name;
    EXPECT_EQ(tok, nullptr);
    EXPECT_GT(std::strlen(err.message), 0u);
    EXPECT_EQ(api.supports(nullptr), 0);
    size_t n = 0;
    EXPECT_EQ(api.encode(nullptr, "x", 1, 0, nullptr, 0, &n, &err), STRATA_PLUGIN_EINVAL);
  }
}

TEST(PluginEntryPoints, CapacityProtocolAndUnknownPre) {
  auto w = writer_from_vocab("gpt-2");
  const auto path = temp_dir("tokenizer-api") / "gpt2.gguf";
  w.write(path);
  const auto file = gguf::GgufFile::open(path);
  MetadataBridge bridge(file);
  const strata_tokenizer_api& api = plugin_api("tokenizer-bpe");
  strata_plugin_error err{};
  strata_tokenizer* tok = nullptr;
  ASSERT_EQ(api.create(bridge.get(), &tok, &err), STRATA_PLUGIN_OK) << err.message;

  const char* text = "Hello world, hello world";
  size_t n = 0;
  int32_t ids[2];
  EXPECT_EQ(api.encode(tok, text, std::strlen(text), 0, ids, 2, &n, &err), STRATA_PLUGIN_ENOSPACE);
  EXPECT_GT(n, 2u);
  std::vector<int32_t> all(n);
  EXPECT_EQ(api.encode(tok, text, std::strlen(text), 0, all.data(), all.size(), &n, &err), STRATA_PLUGIN_OK);
  EXPECT_EQ(n, all.size());
  char buf[2];
  size_t len = 0;
  EXPECT_EQ(api.token_to_piece(tok, all[0], 0, buf, 2, &len), STRATA_PLUGIN_ENOSPACE);  // "Hello"
  EXPECT_EQ(len, 5u);
  EXPECT_EQ(api.token_to_piece(tok, -3, 0, buf, 2, &len), STRATA_PLUGIN_ENOTFOUND);
  EXPECT_EQ(api.encode(tok, "x", 1, STRATA_TOKENIZE_ADD_BOS, all.data(), all.size(), &n, &err), STRATA_PLUGIN_OK);
  api.destroy(tok);

  // Another plugin's model is refused by create() too, not misread.
  const strata_tokenizer_api& spm = plugin_api("tokenizer-spm");
  EXPECT_EQ(spm.supports(bridge.get()), 0);
  EXPECT_EQ(spm.create(bridge.get(), &tok, &err), STRATA_PLUGIN_EUNSUPPORTED);
  EXPECT_NE(std::string(err.message).find("gpt2"), std::string::npos) << err.message;

  // Asked directly, the plugin names the pre-tokenizer it does not implement.
  w.set_string("tokenizer.ggml.pre", "klingon");
  const auto path2 = temp_dir("tokenizer-api") / "klingon.gguf";
  w.write(path2);
  const auto file2 = gguf::GgufFile::open(path2);
  MetadataBridge bridge2(file2);
  EXPECT_EQ(api.supports(bridge2.get()), 0);
  EXPECT_EQ(api.create(bridge2.get(), &tok, &err), STRATA_PLUGIN_EUNSUPPORTED);
  EXPECT_NE(std::string(err.message).find("klingon"), std::string::npos) << err.message;
}

}  // namespace
}  // namespace strata::test
