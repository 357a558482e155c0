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
  // Native route only: history tokens whose KV was restored from a snapshot, and the tokens the
  // request computed by prefill (history not in memory or on disk, plus the prompt).
  int64_t restored_tokens = 0;
  int64_t prefilled_tokens = 0;
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

// What a native generate request asked to inspect: per-token top probabilities ("top_probs") and
// the final logits ("logits"), inline as JSON, or described by where they were written in a
// shared-memory channel ("shm_output"; docs/protocol.md gives the layout).
struct InspectOutputs {
  int32_t top_k = 0;  // 0: none asked
  std::span<const int32_t> top_ids;
  std::span<const float> top_probs;
  bool logits = false;
  std::span<const float> logit_values;
  std::string shm_channel;  // non-empty: the data is in this channel at the offsets below
  uint64_t ids_offset = 0, probs_offset = 0, logits_offset = 0;
};

// /strata/v1/generate
std::string native_token_event(int32_t token, std::string_view text);
std::string native_body(std::string_view session, std::string_view model, std::string_view text,
                        std::span<const int32_t> tokens, std::string_view finish, const Usage& u,
                        const InspectOutputs* inspect = nullptr);

}  // namespace strata::daemon
