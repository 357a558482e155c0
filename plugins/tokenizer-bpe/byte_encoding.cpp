#include "tokenizer-bpe/byte_encoding.h"

#include "tokenizer-common/utf8.h"

namespace strata::tokenizer_plugin::byte_encoding {
namespace {

constexpr uint32_t kMaxCodepoint = 256 + 68;  // 68 bytes are shifted past U+00FF

struct Tables {
  std::string text[256];
  int16_t byte_of[kMaxCodepoint];

  Tables() {
    for (auto& b : byte_of) b = -1;
    uint32_t shifted = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cp = printable ? b : shifted++;
      utf8::append(text[b], cp);
      byte_of[cp] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

std::string_view encode(uint8_t b) { return tables().text[b]; }

int decode(uint32_t cp) { return cp < kMaxCodepoint ? tables().byte_of[cp] : -1; }

}  // namespace strata::tokenizer_plugin::byte_encoding
