// UTF-8 assembly of streamed token bytes, and the streaming detokenizer over real vocabularies.
#include <gtest/gtest.h>

#include "engine/tokenizer/streaming_detokenizer.h"
#include "engine/tokenizer/utf8_assembler.h"
#include "tests/tokenizer/tokenizer_test_support.h"

namespace strata::test {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8Assembler, HoldsBackSplitCharacters) {
  Utf8Assembler a;
  EXPECT_EQ(a.push("h\xC3"), "h");  // é split after its lead byte
  EXPECT_EQ(a.pending(), 1u);
  EXPECT_EQ(a.push("\xA9!"), "\xC3\xA9!");
  // An emoji one byte at a time.
  EXPECT_EQ(a.push("\xF0"), "");
  EXPECT_EQ(a.push("\x9F"), "");
  EXPECT_EQ(a.push("\x98"), "");
  EXPECT_EQ(a.push("\x81"), "\xF0\x9F\x98\x81");
  EXPECT_EQ(a.flush(), "");
}

TEST(Utf8Assembler, InvalidBytesBecomeReplacementOnceCertain) {
  Utf8Assembler a;
  EXPECT_EQ(a.push("\xFF"), kFffd);          // never valid: replaced at once
  EXPECT_EQ(a.push("\x80" "a"), kFffd + "a");  // a stray continuation byte
  EXPECT_EQ(a.push("\xE2\x82"), "");        // could still become €
  EXPECT_EQ(a.push("x"), kFffd + "x");      // ... but does not: one U+FFFD for the maximal subpart
  EXPECT_EQ(a.push("\xC0\x80"), kFffd + kFffd);  // overlong: both bytes are ill-formed
  EXPECT_EQ(a.push("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // a surrogate
  EXPECT_EQ(a.push("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // past U+10FFFF
  EXPECT_EQ(a.push("\xF0\x9F\x98"), "");
  EXPECT_EQ(a.flush(), kFffd);  // the stream ended inside a character
  EXPECT_EQ(a.pending(), 0u);
  EXPECT_EQ(a.push("\xE2\x82\xAC"), "\xE2\x82\xAC");
}

TEST(Utf8Assembler, LeadByteInterruptsPendingCharacter) {
  Utf8Assembler a;
  EXPECT_EQ(a.push("\xE2\x82"), "");
  EXPECT_EQ(a.push("\xC3\xA9"), kFffd + "\xC3\xA9");
}

// Streams `ids` through a detokenizer, checking that every output is whole UTF-8, and returns
// the concatenation.
std::string stream(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  StreamingDetokenizer detok(tok);
  std::string all;
  for (int32_t id : ids) {
    const std::string part = detok.push(id);
    EXPECT_TRUE(valid_utf8(part)) << "after token " << id;
    all += part;
  }
  all += detok.flush();
  return all;
}

TEST(StreamingDetokenizer, SpmByteTokensFormWholeCharacters) {
  const Tokenizer& tok = vocab_tokenizer("llama-spm");
  const std::string text = "llama \xF0\x9F\xA6\x99 and \xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F \xE1\x9E\x80";
  const auto ids = tok.encode(text, false, false);
  EXPECT_EQ(stream(tok, ids), " " + text);

  // The four byte tokens of U+1F999 yield nothing until the last one.
  StreamingDetokenizer detok(tok);
  EXPECT_EQ(detok.push(3 + 0xF0), "");
  EXPECT_EQ(detok.push(3 + 0x9F), "");
  EXPECT_EQ(detok.push(3 + 0xA6), "");
  EXPECT_EQ(detok.push(3 + 0x99), "\xF0\x9F\xA6\x99");
}

TEST(StreamingDetokenizer, BpeTokensSplittingCharacters) {
  for (const char* name : {"llama-bpe", "gpt-2", "qwen2"}) {
    const Tokenizer& tok = vocab_tokenizer(name);
    const std::string text =
        "\xF0\x9F\x9A\x80 (normal) \xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F \xE2\x9C\x85 "
        "\xE1\x9E\x80\xE1\x9E\xB6\xE1\x9E\x93\xE1\x9F\x8B \xE6\x88\x91\xE6\x83\xB3";
    EXPECT_EQ(stream(tok, tok.encode(text, false, false)), text) << name;
  }
}

TEST(StreamingDetokenizer, InvalidBytesAndFlush) {
  const Tokenizer& tok = vocab_tokenizer("llama-spm");
  StreamingDetokenizer detok(tok);
  EXPECT_EQ(detok.push(3 + 0xE2), "");
  EXPECT_EQ(detok.push(3 + 0x82), "");
  EXPECT_EQ(detok.push(3 + 'A'), kFffd + "A");
  EXPECT_EQ(detok.push(3 + 0xFF), kFffd);
  EXPECT_EQ(detok.push(3 + 0xF0), "");
  EXPECT_EQ(detok.flush(), kFffd);
}

TEST(StreamingDetokenizer, ControlTokensRenderOnlyWhenAsked) {
  const Tokenizer& tok = vocab_tokenizer("llama-bpe");
  StreamingDetokenizer quiet(tok);
  EXPECT_EQ(quiet.push(128009), "");
  StreamingDetokenizer loud(tok, /*render_special=*/true);
  EXPECT_EQ(loud.push(128009), "<|eot_id|>");
}

}  // namespace
}  // namespace strata::test
