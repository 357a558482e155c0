// JSON bodies and SSE event payloads of the generation routes. Pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace strata::daemon {

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct ResponseIds {
  std::string id;       // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

// /v1/completions
std::string completion_body(const ResponseIds& ids, std::string_view text, std::string_view finish, const Usage& u);
std::string completion_chunk(const ResponseIds& ids, std::string_view text);
std::string completion_last_chunk(const ResponseIds& ids, std::string_view finish, const Usage& u);

// /v1/chat/completions
std::string chat_body(const ResponseIds& ids, std::string_view text, std::string_view finish, const Usage& u);
std::string chat_first_chunk(const ResponseIds& ids);  // delta {"role":"assistant","content":""}
std::string chat_chunk(const ResponseIds& ids, std::string_view text);
std::string chat_last_chunk(const ResponseIds& ids, std::string_view finish, const Usage& u);

// /strata/v1/generate
std::string native_token_event(int32_t token, std::string_view text);
std::string native_body(std::string_view session, std::string_view model, std::string_view text,
                        std::span<const int32_t> tokens, std::string_view finish, const Usage& u);

}  // namespace strata::daemon
