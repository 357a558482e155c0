// Cuts text into runs of plain text and special tokens before a tokenizer sees it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer-common/vocab.h"

namespace strata::tokenizer_plugin {

struct Fragment {
  int32_t token;  // a special token's id, or -1 for plain text
  size_t offset;  // plain text: bytes [offset, offset + length) of the input
  size_t length;
};

// Splits `text` at occurrences of the vocabulary's splittable tokens. The tokens are claimed one
// after the other, longest text first, each taking every occurrence in the text still left
// plain (llama.cpp's order, so ids match its output). USER_DEFINED tokens are always split out:
// they are added tokens that the vocabulary's own tokenizer (Hugging Face tokenizers) matches
// before its model runs, e.g. the runs of spaces in GPT-NeoX vocabularies. CONTROL and UNKNOWN
// tokens are split out only when `parse_special` is set.
std::vector<Fragment> split_special(std::string_view text, const Vocab& vocab, bool parse_special);

}  // namespace strata::tokenizer_plugin
