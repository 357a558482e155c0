// llama.cpp's tokenizer test vectors, one test per shared vocab file: every input must encode to
// exactly the ids the reference tokenizer produced (no BOS/EOS, special tokens not parsed), and
// decode back to itself.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/tokenizer/tokenizer_test_support.h"

namespace strata::test {
namespace {

std::string ids_text(const std::vector<int32_t>& ids) {
  std::ostringstream s;
  for (size_t i = 0; i < ids.size(); ++i) s << (i ? " " : "") << ids[i];
  return s.str();
}

bool is_spm(const std::string& name) { return name == "llama-spm" || name == "phi-3"; }

class VocabVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabVectors, MatchesReferenceIds) {
  const std::string name = GetParam();
  const Tokenizer& tok = vocab_tokenizer(name);
  const auto inputs = vocab_inputs(name);
  const auto expected = vocab_outputs(name);
  ASSERT_FALSE(inputs.empty());

  size_t matched = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto ids = tok.encode(inputs[i], /*add_special=*/false, /*parse_special=*/false);
    if (expected) {
      ASSERT_EQ(expected->size(), inputs.size());
      EXPECT_EQ(ids_text(ids), ids_text((*expected)[i])) << "input " << i << ": '" << inputs[i] << "'";
      matched += ids == (*expected)[i];
    }
    // SentencePiece prefixes a space to the text; everything else round-trips exactly.
    const std::string want = is_spm(name) && !inputs[i].empty() ? " " + inputs[i] : inputs[i];
    EXPECT_EQ(tok.decode(ids), want) << "input " << i;
  }
  if (expected) {
    RecordProperty("lines_matched", std::to_string(matched) + "/" + std::to_string(inputs.size()));
    std::printf("%s: %zu/%zu lines match\n", name.c_str(), matched, inputs.size());
  }
}

INSTANTIATE_TEST_SUITE_P(SharedVocabs, VocabVectors,
                         ::testing::Values("llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2", "deepseek-llm",
                                           "deepseek-coder", "starcoder", "falcon", "mpt", "refact"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace strata::test
