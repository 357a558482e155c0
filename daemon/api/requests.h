// Request bodies -> request structs, with every value checked. Pure (no I/O, no model): these
// functions are what the fuzz target drives. Each throws ApiError(400) naming the offending field.
//
// Conventions shared by every route: a JSON object body; null means "not given"; numbers must be
// finite and in range; integers may be written as integral floats (5.0). The OpenAI routes ignore
// fields they do not know (clients send many); the native route rejects them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/sampler/sampler.h"

namespace strata::daemon {

struct ParseLimits {
  int64_t max_tokens = 4096;         // largest max_tokens accepted
  int64_t default_max_tokens = 256;  // when the request gives none
};

// A prompt given as text or as token ids (ids are checked against the vocabulary later).
struct PromptInput {
  std::string text;
  std::vector<int32_t> tokens;
  bool is_tokens = false;
};

struct GenerationFields {
  std::string model;
  int64_t max_tokens = 0;
  SamplerParams sampling;
  bool seed_given = false;  // false: the handler draws a random seed
  std::vector<std::string> stop;
  bool stream = false;
};

struct CompletionRequest : GenerationFields {
  PromptInput prompt;
  std::optional<std::string> suffix;  // fill-in-the-middle
};

struct ChatRequest : GenerationFields {
  std::vector<ChatMessage> messages;  // roles: system, user, assistant, tool
};

// Where a generate request's bulk data lies in a shared-memory channel (POST /strata/v1/shm).
struct ShmUse {
  std::string channel;                  // the channel id
  bool has_prompt = false;              // the prompt is in the channel, not in "prompt"
  uint64_t prompt_offset = 0, prompt_length = 0;
  bool prompt_is_tokens = false;        // int32 token ids (native byte order) instead of UTF-8 text
  bool has_output = false;              // top_probs / logits are written to the channel, not to JSON
  uint64_t output_offset = 0;
};

// top_probs entries (tokens x K) one request may ask for at most: 64 MiB of ids and probabilities.
constexpr int64_t kMaxTopProbEntries = int64_t{1} << 23;

struct GenerateRequest : GenerationFields {
  PromptInput prompt;
  std::string session;  // "" = create a new session
  int32_t top_probs = 0;  // > 0: per generated token, the K most likely tokens and their probabilities
  bool logits = false;    // the last computed position's logits
  std::optional<ShmUse> shm;
};

CompletionRequest parse_completion_request(std::string_view body, const ParseLimits& limits);
ChatRequest parse_chat_request(std::string_view body, const ParseLimits& limits);
GenerateRequest parse_generate_request(std::string_view body, const ParseLimits& limits);

// POST /strata/v1/shm: {"size": BYTES}; returns the size (>= 1; the route checks the limit).
uint64_t parse_shm_open_request(std::string_view body);

// Session ids are 32 lowercase hex digits.
bool is_session_id(std::string_view id);

}  // namespace strata::daemon
