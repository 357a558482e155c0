#include "engine/tokenizer/streaming_detokenizer.h"

namespace strata {

std::string StreamingDetokenizer::push(int32_t token) { return utf8_.push(tokenizer_.piece(token, render_special_)); }

}  // namespace strata
