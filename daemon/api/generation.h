// A generation request from arrival to answer: get the model (loading it on first use), build
// the prompt tokens, attach the session (native route), submit to the model's scheduler, then
// stream or collect the tokens and answer in the route's format. Internal to api/.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/api/api_state.h"
#include "daemon/api/requests.h"

namespace strata::daemon {

enum class OutputKind { Completion, Chat, Native };

struct GenerationPlan {
  OutputKind kind = OutputKind::Completion;
  GenerationFields fields;
  PromptInput prompt;                 // Completion, Native
  std::optional<std::string> suffix;  // Completion: fill-in-the-middle
  std::vector<ChatMessage> messages;  // Chat
  std::string session;                // Native: "" = a new session
  PeerIdentity peer;
  int32_t top_probs = 0;              // Native: per-token top-K probabilities
  bool logits = false;                // Native: the last computed position's logits
  std::shared_ptr<const ShmChannel> shm_output;  // Native: write the two above into this channel
  uint64_t shm_output_offset = 0;
};

// Answers through `ex`, now or later (on the I/O thread).
void start_generation(ApiState& st, GenerationPlan plan, std::shared_ptr<Exchange> ex);

}  // namespace strata::daemon
