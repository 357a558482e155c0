// Turns generated tokens into text as they arrive, without ever emitting half a character: a
// character split over several byte tokens (an emoji from <0xF0><0x9F><0x98><0x81>, say) comes
// out whole once its last byte arrives.
#pragma once

#include <cstdint>
#include <string>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8_assembler.h"

namespace strata {

class StreamingDetokenizer {
 public:
  // `tokenizer` must outlive this object. With `render_special`, control tokens appear as their
  // text (e.g. "<|eot_id|>"); otherwise as nothing.
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, bool render_special = false)
      : tokenizer_(tokenizer), render_special_(render_special) {}

  // The text that token completes (possibly empty). Throws Error(InvalidArgument) for an id
  // outside the vocabulary.
  std::string push(int32_t token);
  // The end of the stream: bytes of an unfinished character come out as U+FFFD.
  std::string flush() { return utf8_.flush(); }
  void reset() { utf8_.reset(); }

 private:
  const Tokenizer& tokenizer_;
  bool render_special_;
  Utf8Assembler utf8_;
};

}  // namespace strata
