// Behaviour of the tokenizers beyond the reference vectors: BOS/EOS as the metadata says,
// special-token parsing, byte fallback, special-token roles, rendering and round trips.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "engine/core/error.h"
#include "tests/tokenizer/tokenizer_test_support.h"

namespace strata::test {
namespace {

bool contains(const std::vector<int32_t>& ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

TEST(TokenizerBos, SpmAddsBosByDefault) {
  const Tokenizer& tok = vocab_tokenizer("llama-spm");
  EXPECT_TRUE(tok.adds_bos());
  EXPECT_FALSE(tok.adds_eos());
  const auto ids = tok.encode("Hello", true, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_NE(ids.back(), 2);
  EXPECT_EQ(tok.encode("", true, false), std::vector<int32_t>{1});
  EXPECT_TRUE(tok.encode("", false, false).empty());
}

TEST(TokenizerBos, BpeFollowsAddBosToken) {
  const Tokenizer& llama3 = vocab_tokenizer("llama-bpe");  // add_bos_token = true
  EXPECT_TRUE(llama3.adds_bos());
  EXPECT_EQ(llama3.encode("Hello", true, false).front(), 128000);
  EXPECT_NE(llama3.encode("Hello", false, false).front(), 128000);

  const Tokenizer& gpt2 = vocab_tokenizer("gpt-2");  // no add_bos_token key: BPE adds none
  EXPECT_FALSE(gpt2.adds_bos());
  EXPECT_EQ(gpt2.encode("Hello", true, false), gpt2.encode("Hello", false, false));

  const Tokenizer& qwen2 = vocab_tokenizer("qwen2");  // add_bos_token = false
  EXPECT_FALSE(qwen2.adds_bos());
  EXPECT_EQ(qwen2.encode("Hello", true, false), qwen2.encode("Hello", false, false));
}

TEST(TokenizerBos, MetadataCanTurnBosOffAndEosOn) {
  auto w = writer_from_vocab("llama-spm");
  w.set_bool("tokenizer.ggml.add_bos_token", false);
  w.set_bool("tokenizer.ggml.add_eos_token", true);
  const Tokenizer tok = tokenizer_from(w);
  const auto ids = tok.encode("Hello", true, false);
  EXPECT_NE(ids.front(), 1);
  EXPECT_EQ(ids.back(), 2);
}

TEST(TokenizerSpecial, ParseSpecialOnAndOff) {
  const Tokenizer& tok = vocab_tokenizer("llama-bpe");
  const std::string text = "Hi<|eot_id|>there";
  const auto parsed = tok.encode(text, false, true);
  EXPECT_TRUE(contains(parsed, 128009));
  EXPECT_EQ(tok.decode(parsed, /*render_special=*/true), text);
  EXPECT_EQ(tok.decode(parsed), "Hithere");

  const auto plain = tok.encode(text, false, false);
  EXPECT_FALSE(contains(plain, 128009));
  EXPECT_EQ(tok.decode(plain), text);
}

TEST(TokenizerSpecial, LongestSpecialTokenWins) {
  const Tokenizer& tok = vocab_tokenizer("starcoder");  // has <pr> and <pr_status>, ...
  const auto ids = tok.encode("<pr_status>", false, true);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(tok.piece(ids[0], true), "<pr_status>");
}

TEST(TokenizerSpecial, SpmPrefixesSpaceAfterSpecialToken) {
  const Tokenizer& tok = vocab_tokenizer("llama-spm");
  const auto ids = tok.encode("<s>Hello", false, true);
  std::vector<int32_t> want = {1};
  const auto hello = tok.encode("Hello", false, false);
  want.insert(want.end(), hello.begin(), hello.end());
  EXPECT_EQ(ids, want);
  EXPECT_FALSE(contains(tok.encode("<s>Hello", false, false), 1));
}

TEST(TokenizerSpecial, UserDefinedTokensAreSplitEvenWithoutParseSpecial) {
  // GPT-NeoX's added tokens for runs of spaces, as Hugging Face and llama.cpp apply them.
  const Tokenizer& tok = vocab_tokenizer("mpt");
  EXPECT_EQ(tok.encode("    Hello", false, false), (std::vector<int32_t>{50274, 12092}));
  EXPECT_EQ(tok.token_attr(50274) & STRATA_TOKEN_USER_DEFINED, uint32_t{STRATA_TOKEN_USER_DEFINED});
}

TEST(TokenizerSpecial, Phi3TokensSwallowFollowingWhitespace) {
  // Phi-3's added tokens are rstrip tokens (recognised by general.name, as llama.cpp does).
  const Tokenizer& tok = vocab_tokenizer("phi-3");
  const auto ids = tok.encode("<|user|>\n Hello<|end|>\n<|assistant|>", false, true);
  std::vector<int32_t> want = {32010};
  const auto hello = tok.encode("Hello", false, false);
  want.insert(want.end(), hello.begin(), hello.end());
  want.push_back(32007);
  want.push_back(32001);
  EXPECT_EQ(ids, want);
}

TEST(TokenizerSpecial, RolesFromKeysAndNames) {
  const Tokenizer& llama3 = vocab_tokenizer("llama-bpe");
  EXPECT_EQ(llama3.bos(), 128000);
  EXPECT_EQ(llama3.eos(), 128001);
  EXPECT_EQ(llama3.eot(), 128009);  // found by its name <|eot_id|>
  EXPECT_TRUE(llama3.is_eog(128001));
  EXPECT_TRUE(llama3.is_eog(128009));
  EXPECT_FALSE(llama3.is_eog(128000));
  EXPECT_EQ(llama3.fim_pre(), -1);

  const Tokenizer& qwen2 = vocab_tokenizer("qwen2");
  EXPECT_EQ(qwen2.eot(), 151645);  // <|im_end|>
  EXPECT_EQ(qwen2.fim_pre(), 151659);
  EXPECT_EQ(qwen2.fim_suf(), 151661);
  EXPECT_EQ(qwen2.fim_mid(), 151660);
  EXPECT_TRUE(qwen2.is_control(151659));  // a name-detected FIM token acts as a control token

  const Tokenizer& starcoder = vocab_tokenizer("starcoder");
  EXPECT_EQ(starcoder.fim_pre(), 1);
  EXPECT_EQ(starcoder.fim_mid(), 2);
  EXPECT_EQ(starcoder.fim_suf(), 3);

  const Tokenizer& deepseek = vocab_tokenizer("deepseek-coder");
  EXPECT_EQ(deepseek.fim_pre(), 32016);
  EXPECT_EQ(deepseek.fim_suf(), 32015);
  EXPECT_EQ(deepseek.fim_mid(), 32017);

  const Tokenizer& phi3 = vocab_tokenizer("phi-3");
  EXPECT_EQ(phi3.eos(), 32000);
  EXPECT_EQ(phi3.eot(), 32007);  // <|end|>

  const Tokenizer& spm = vocab_tokenizer("llama-spm");
  EXPECT_EQ(spm.unk(), 0);
  EXPECT_EQ(spm.eot(), -1);
  EXPECT_TRUE(spm.is_eog(2));
}

TEST(TokenizerSpecial, FimKeysWinOverNames) {
  auto w = writer_from_vocab("starcoder");
  w.set_u32("tokenizer.ggml.prefix_token_id", 7);  // the older key spelling
  w.set_u32("tokenizer.ggml.fim_mid_token_id", 8);
  w.set_u32("tokenizer.ggml.eot_token_id", 9);
  const Tokenizer tok = tokenizer_from(w);
  EXPECT_EQ(tok.fim_pre(), 7);
  EXPECT_EQ(tok.fim_mid(), 8);
  EXPECT_EQ(tok.fim_suf(), 3);
  EXPECT_EQ(tok.eot(), 9);
}

TEST(TokenizerPieces, ControlTokensRenderOnlyWhenAsked) {
  const Tokenizer& tok = vocab_tokenizer("llama-bpe");
  EXPECT_EQ(tok.piece(128009), "");
  EXPECT_EQ(tok.piece(128009, true), "<|eot_id|>");
  EXPECT_EQ(tok.piece(tok.encode(" Hello", false, false).at(0)), " Hello");
  EXPECT_THROW(tok.piece(-1), Error);
  EXPECT_THROW(tok.piece(tok.n_vocab()), Error);
  EXPECT_EQ(tok.token_attr(tok.n_vocab()), 0u);
}

TEST(TokenizerPieces, SpmSpacesAndBytes) {
  const Tokenizer& tok = vocab_tokenizer("llama-spm");
  EXPECT_EQ(tok.piece(tok.encode("Hello", false, false).at(0)), " Hello");
  EXPECT_EQ(tok.piece(3 + 0x0A), "\n");  // <0x0A>
  EXPECT_EQ(tok.piece(0), "");           // <unk>
  EXPECT_EQ(tok.piece(0, true), "<unk>");
}

TEST(TokenizerByteFallback, SpmFallsBackToByteTokens) {
  const Tokenizer& tok = vocab_tokenizer("llama-spm");
  const std::string llama = "\xF0\x9F\xA6\x99";  // U+1F999, not a piece of the Llama 2 vocabulary
  const auto ids = tok.encode(llama, false, false);
  // "▁" then the four bytes as <0xF0> <0x9F> <0xA6> <0x99> (ids 3 + byte).
  ASSERT_GE(ids.size(), 4u);
  const std::vector<int32_t> tail(ids.end() - 4, ids.end());
  EXPECT_EQ(tail, (std::vector<int32_t>{3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99}));
  for (int32_t id : tail) EXPECT_TRUE(tok.token_attr(id) & STRATA_TOKEN_BYTE);
  EXPECT_EQ(tok.decode(ids), " " + llama);
}

TEST(TokenizerByteFallback, MalformedUtf8RoundTripsThroughSpmBytes) {
  const Tokenizer& tok = vocab_tokenizer("llama-spm");
  const std::string bad = "a\xFF" "b\xE2\x82";
  const auto ids = tok.encode(bad, false, false);
  std::string raw;
  for (int32_t id : ids) raw += tok.piece(id);
  EXPECT_EQ(raw, " " + bad);
}

TEST(TokenizerByteFallback, BpeReplacesMalformedUtf8) {
  const Tokenizer& tok = vocab_tokenizer("gpt-2");
  const auto ids = tok.encode("a\xFF" "b", false, false);
  EXPECT_EQ(tok.decode(ids), "a\xEF\xBF\xBD" "b");
}

TEST(TokenizerTiny, SpmMergesByScore) {
  // "ab" outranks "bc", so "abc" is "ab" + "c" although "bc" exists too.
  auto w = tiny_spm({"\xE2\x96\x81", "a", "b", "c", "ab", "bc"}, {-5, -1, -1, -1, -2, -3});
  w.set_bool("tokenizer.ggml.add_space_prefix", false);
  const Tokenizer tok = tokenizer_from(w);
  const int32_t base = 3 + 256;
  EXPECT_EQ(tok.encode("abc", false, false), (std::vector<int32_t>{base + 4, base + 3}));
  EXPECT_EQ(tok.encode("xb", false, false), (std::vector<int32_t>{3 + 'x', base + 2}));  // 'x' by byte
}

TEST(TokenizerRoundTrip, EveryVocabRoundTripsMixedText) {
  const std::string text =
      "Mixed: ASCII, \xC3\xA9t\xC3\xA9, \xD0\xBD\xD0\xB5\xD1\x89\xD0\xBE, \xE4\xB8\xAD\xE6\x96\x87, "
      "emoji \xF0\x9F\x98\x80\xF0\x9F\xA6\x99, tabs\t\tand\r\nnewlines\n\n  spaces   end ";
  for (const char* name : {"llama-bpe", "qwen2", "gpt-2", "deepseek-llm", "deepseek-coder", "starcoder", "falcon",
                           "mpt", "refact"}) {
    const Tokenizer& tok = vocab_tokenizer(name);
    EXPECT_EQ(tok.decode(tok.encode(text, false, false)), text) << name;
  }
  for (const char* name : {"llama-spm", "phi-3"}) {
    const Tokenizer& tok = vocab_tokenizer(name);
    EXPECT_EQ(tok.decode(tok.encode(text, false, false)), " " + text) << name;
  }
}

TEST(TokenizerRoundTrip, RandomBytesNeverBreakAnything) {
  std::mt19937 rng(1234);
  const std::vector<std::string> atoms = {"<|eot_id|>", "<s>", "</s>", "  ", "\xE2\x96\x81", "\xF0\x9F", "\n", "'s", "<|im_end|>",
                                          "\xC3", "1234", "\t \r\n", "[PAD100015]", "<fim_prefix>"};
  for (const char* name : {"llama-spm", "llama-bpe", "qwen2", "deepseek-llm", "mpt", "falcon"}) {
    const Tokenizer& tok = vocab_tokenizer(name);
    for (int round = 0; round < 40; ++round) {
      std::string text;
      const int n = rng() % 64;
      for (int i = 0; i < n; ++i) {
        if (rng() % 3 == 0)
          text += atoms[rng() % atoms.size()];
        else
          text += static_cast<char>(rng() % 256);
      }
      for (bool special : {false, true}) {
        const auto ids = tok.encode(text, true, special);
        for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.n_vocab()) << name;
        const std::string back = tok.decode(ids, true);
        EXPECT_TRUE(valid_utf8(back)) << name;
      }
    }
  }
}

TEST(TokenizerErrors, NoPluginNamesTheTokenizerModel) {
  auto w = writer_from_vocab("llama-spm");
  w.set_string("tokenizer.ggml.model", "wordpiece-9000");
  try {
    tokenizer_from(w);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Plugin);
    EXPECT_NE(std::string(e.what()).find("wordpiece-9000"), std::string::npos) << e.what();
  }
}

TEST(TokenizerErrors, UnknownPreTokenizerIsNamed) {
  auto w = writer_from_vocab("gpt-2");
  w.set_string("tokenizer.ggml.pre", "klingon");
  try {
    tokenizer_from(w);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("klingon"), std::string::npos) << e.what();
  }
}

TEST(TokenizerErrors, BosAskedOfModelWithoutBos) {
  auto w = writer_from_vocab("gpt-2");
  w.remove("tokenizer.ggml.bos_token_id");
  const Tokenizer tok = tokenizer_from(w);
  EXPECT_EQ(tok.bos(), -1);
  EXPECT_NO_THROW(tok.encode("x", true, false));  // the metadata asks for no BOS
}

}  // namespace
}  // namespace strata::test
