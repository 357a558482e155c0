// GPT-2's reversible byte <-> Unicode mapping. Byte-level BPE vocabularies store every token as
// text in which each byte of the original is one printable character: bytes that are printable
// Latin-1 characters stand for themselves, the other 68 are shifted to U+0100..U+0143 in byte
// order (so a space is "Ġ", U+0120).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::tokenizer_plugin::byte_encoding {

// The UTF-8 text of the character standing for byte `b`.
std::string_view encode(uint8_t b);
// The byte that codepoint `cp` stands for, or -1 when it stands for none.
int decode(uint32_t cp);

}  // namespace strata::tokenizer_plugin::byte_encoding
