#include "engine/decode/generation.h"

#include <chrono>

#include "engine/decode/decoder.h"
#include "engine/kv/kv_cache.h"
#include "engine/sampler/sampler.h"
#include "engine/tokenizer/streaming_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace strata {

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Length: return "length";
    case FinishReason::EndOfGeneration: return "stop";
    case FinishReason::ContextFull: return "context_full";
    case FinishReason::Stopped: return "stopped";
  }
  return "unknown";
}

GenerationResult generate(Decoder& decoder, KvCache& kv, Sampler& sampler, const Tokenizer& tokenizer,
                          std::span<const int32_t> prompt, const GenerationOptions& options,
                          const TokenCallback& on_token) {
  using Clock = std::chrono::steady_clock;
  GenerationResult result;
  result.prompt_tokens = static_cast<int64_t>(prompt.size());
  std::vector<float> logits(decoder.n_vocab());
  // Penalties look at the whole sequence: earlier turns are not in `prompt`, so keep our own.
  std::vector<int32_t> history(prompt.begin(), prompt.end());

  const auto t0 = Clock::now();
  decoder.forward(prompt, kv, logits);
  const auto t1 = Clock::now();
  result.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();

  StreamingDetokenizer detok(tokenizer);
  while (static_cast<int64_t>(result.tokens.size()) < options.max_tokens) {
    const int32_t token = sampler.sample(logits, history);
    if (options.stop_at_end_of_generation && tokenizer.is_eog(token)) {
      result.finish = FinishReason::EndOfGeneration;
      break;
    }
    result.tokens.push_back(token);
    history.push_back(token);
    std::string piece = detok.push(token);
    result.text += piece;
    if (on_token && !on_token(token, piece)) {
      result.finish = FinishReason::Stopped;
      break;
    }
    if (static_cast<int64_t>(result.tokens.size()) == options.max_tokens) break;
    if (kv.size() >= kv.capacity()) {
      result.finish = FinishReason::ContextFull;
      break;
    }
    decoder.forward(std::span<const int32_t>(&token, 1), kv, logits);
  }
  std::string tail = detok.flush();
  if (!tail.empty()) {
    result.text += tail;
    if (on_token) on_token(-1, tail);
  }
  result.decode_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return result;
}

}  // namespace strata
