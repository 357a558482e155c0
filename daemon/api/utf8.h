#pragma once

#include <string>
#include <string_view>

namespace strata::daemon {

// `s` with every byte that is not part of a well-formed UTF-8 sequence replaced by '?', so that
// text from outside (paths, echoed input) always makes valid JSON.
std::string valid_utf8(std::string_view s);

}  // namespace strata::daemon
