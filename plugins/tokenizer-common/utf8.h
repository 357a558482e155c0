// UTF-8 helpers shared by the tokenizer plugins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata::tokenizer_plugin::utf8 {

inline constexpr uint32_t kReplacement = 0xFFFD;

// Length of the sequence a lead byte announces, judged by its high nibble alone (a stray
// continuation byte counts as 1). This is how SentencePiece-style tokenizers cut text into
// symbols, valid or not, so that byte fallback can still reproduce every input byte.
inline size_t lead_length(unsigned char lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Decodes the well-formed sequence starting at s[i] (no overlongs, no surrogates, at most
// U+10FFFF). Returns its length and sets *cp, or returns 0 when s[i] does not start one.
size_t decode(std::string_view s, size_t i, uint32_t* cp);

void append(std::string& out, uint32_t cp);

// s with each byte that does not start a well-formed sequence replaced by U+FFFD. The regex
// engine needs valid UTF-8, and replacing byte by byte is what llama.cpp does before it
// pre-tokenizes, so token ids match its output on malformed input too.
std::string sanitize(std::string_view s);

}  // namespace strata::tokenizer_plugin::utf8
