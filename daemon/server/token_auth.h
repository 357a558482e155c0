// The TCP listener's bearer token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::daemon {

struct BearerToken {
  std::string token;
  uint32_t owner_uid = 0;  // TCP clients act as this uid (sessions belong to it)
};

// Reads the token (surrounding whitespace trimmed) from `path`. Throws std::runtime_error when
// the file is missing, not a regular file, readable or writable by group or others, or empty.
// The message never contains the token.
BearerToken load_token_file(const std::string& path);

// Compares in time that depends only on the lengths, not on where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// Whether an Authorization header value is "Bearer <token>" for this token.
bool bearer_matches(std::string_view authorization, std::string_view token);

}  // namespace strata::daemon
