// Turns a stream of bytes that arrive in arbitrary pieces (one token's bytes at a time) into
// valid UTF-8 text, as soon as it is certain.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace strata {

class Utf8Assembler {
 public:
  // Appends `bytes` and returns the text that is now complete. Never ends inside a character: the
  // bytes of an unfinished character are held back until it completes. Ill-formed input becomes
  // U+FFFD, one per maximal ill-formed subsequence (Unicode's recommended practice), as soon as
  // the next byte proves it ill-formed.
  std::string push(std::string_view bytes);
  void push(std::string_view bytes, std::string& out);
  // Ends the stream: a held-back unfinished character becomes U+FFFD.
  std::string flush();
  // Bytes held back, waiting for the rest of their character.
  size_t pending() const { return n_pending_; }
  void reset() { n_pending_ = 0; }

 private:
  void start(unsigned char b, std::string& out);

  unsigned char pending_[4] = {};
  size_t n_pending_ = 0;
  size_t need_ = 0;          // length of the character being assembled
  unsigned char lo_ = 0x80;  // allowed range of its second byte (excludes overlongs, surrogates,
  unsigned char hi_ = 0xBF;  // and code points past U+10FFFF)
};

}  // namespace strata
