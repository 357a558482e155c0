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

struct GenerateRequest : GenerationFields {
  PromptInput prompt;
  std::string session;  // "" = create a new session
};

CompletionRequest parse_completion_request(std::string_view body, const ParseLimits& limits);
ChatRequest parse_chat_request(std::string_view body, const ParseLimits& limits);
GenerateRequest parse_generate_request(std::string_view body, const ParseLimits& limits);

// Session ids are 32 lowercase hex digits.
bool is_session_id(std::string_view id);

}  // namespace strata::daemon
