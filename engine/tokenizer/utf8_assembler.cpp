#include "engine/tokenizer/utf8_assembler.h"

namespace strata {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

std::string Utf8Assembler::push(std::string_view bytes) {
  std::string out;
  push(bytes, out);
  return out;
}

void Utf8Assembler::start(unsigned char b, std::string& out) {
  lo_ = 0x80;
  hi_ = 0xBF;
  if (b < 0x80) {
    out.push_back(static_cast<char>(b));
    return;
  }
  if (b >= 0xC2 && b <= 0xDF) {
    need_ = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need_ = 3;
    if (b == 0xE0) lo_ = 0xA0;
    if (b == 0xED) hi_ = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need_ = 4;
    if (b == 0xF0) lo_ = 0x90;
    if (b == 0xF4) hi_ = 0x8F;
  } else {
    out.append(kReplacement);  // a continuation byte out of place, or a byte UTF-8 never uses
    return;
  }
  pending_[0] = b;
  n_pending_ = 1;
}

void Utf8Assembler::push(std::string_view bytes, std::string& out) {
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (n_pending_ == 0) {
      start(b, out);
      continue;
    }
    const bool fits = n_pending_ == 1 ? (b >= lo_ && b <= hi_) : (b & 0xC0) == 0x80;
    if (!fits) {
      // The held bytes are a maximal ill-formed subsequence; this byte starts afresh.
      out.append(kReplacement);
      n_pending_ = 0;
      start(b, out);
      continue;
    }
    pending_[n_pending_++] = b;
    if (n_pending_ == need_) {
      out.append(reinterpret_cast<const char*>(pending_), n_pending_);
      n_pending_ = 0;
    }
  }
}

std::string Utf8Assembler::flush() {
  std::string out;
  if (n_pending_ > 0) out.append(kReplacement);
  n_pending_ = 0;
  return out;
}

}  // namespace strata
