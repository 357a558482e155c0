// Internal to engine/gguf: text checks and the quoting of file-provided names in messages.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace strata::gguf::detail {

// Well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s);

// `s` in single quotes for an error message, with control characters, quotes, backslashes and
// bytes that are not valid UTF-8 escaped (\n, \x1f, ...), cut after max_bytes with "...".
std::string quote_name(std::string_view s, size_t max_bytes = 96);

}  // namespace strata::gguf::detail
