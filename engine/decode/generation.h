// The generation loop: prefill a prompt, then sample and decode one token at a time, streaming
// text pieces that are always whole UTF-8 characters.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

class Decoder;
class KvCache;
class Sampler;
class Tokenizer;

enum class FinishReason { Length, EndOfGeneration, ContextFull, Stopped };
std::string_view finish_reason_name(FinishReason r);  // "length", "stop", "context_full", "stopped"

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids, the end-of-generation token excluded
  std::string text;
  FinishReason finish = FinishReason::Length;
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;  // from the first sampled token to the last
};

struct GenerationOptions {
  int64_t max_tokens = 128;
  bool stop_at_end_of_generation = true;  // stop at EOS / EOT
};

// Called for each generated token with the text that became complete; return false to stop.
using TokenCallback = std::function<bool(int32_t token, std::string_view text)>;

// Appends `prompt` to the sequence in `kv` (which may already hold earlier turns), then
// generates. Throws what the decoder throws.
GenerationResult generate(Decoder& decoder, KvCache& kv, Sampler& sampler, const Tokenizer& tokenizer,
                          std::span<const int32_t> prompt, const GenerationOptions& options,
                          const TokenCallback& on_token = {});

}  // namespace strata
