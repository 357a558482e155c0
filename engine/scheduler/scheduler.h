// Continuous batching for one loaded model: requests from many clients join the running batch
// between decoder steps; long prompts are prefilled in chunks so that other sequences keep
// decoding; a cancelled request leaves the batch at the next step.
//
// Thread model: submit(), cancel() and stats() may be called from any thread. The scheduler
// runs decoder steps on its own thread; token and completion callbacks run on that thread and
// must be quick (queue the bytes, never block on a socket). A callback may submit() (e.g. continue
// its sequence from on_done) but must not destroy the Scheduler.
//
// A step: queued requests are admitted while fewer than max_sequences run; every running request
// contributes its sampled token (decoding) or its next prompt chunk (at most prefill_chunk
// tokens; at most max_batch_tokens in all, decoding requests first), and all of them go through
// one batched Decoder::forward. Requests whose input is then computed sample their next token.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/decode/generation.h"
#include "engine/kv/kv_cache.h"
#include "engine/sampler/sampler.h"

namespace strata {

class KvPagePool;
class Model;

// One conversation's state in the engine: its KV cache and the tokens it holds. A session in the
// daemon owns one; a request borrows it while it runs (at most one request per sequence at a
// time: the scheduler refuses a second with Error(InvalidArgument)).
//
// The sequence's text is tokens() followed by pending(). pending() holds tokens the sequence
// has taken in but whose K/V are not computed yet; the next request feeds them before its own
// prompt. After a request that sampled tokens, it holds the last sampled token (the end-of-
// generation token too, when generation stopped there): feeding it would cost a step that an
// unfinished conversation may never need. A request that was stopped (cancelled, or the
// scheduler shut down) before its prompt was computed leaves the rest of its prompt there. So
// continuing a sequence gives the same tokens as one uninterrupted generation. A failed request
// drops what it had not computed. The tokens of a stop string stay in the sequence (as in
// llama.cpp); only their text is withheld from the client.
class Sequence {
 public:
  Sequence(std::unique_ptr<KvCache> kv) : kv_(std::move(kv)) {}
  // A sequence restored from a snapshot: `kv` holds the K/V of `tokens` (kv->size() ==
  // tokens.size(), else Error(InvalidArgument)); `pending` as pending() describes.
  Sequence(std::unique_ptr<KvCache> kv, std::vector<int32_t> tokens, std::vector<int32_t> pending = {});
  KvCache& kv() { return *kv_; }
  const KvCache& kv() const { return *kv_; }
  // Tokens whose K/V the cache holds, in order (prompt and generated tokens of every turn).
  const std::vector<int32_t>& tokens() const { return tokens_; }
  // Tokens taken in but not yet computed (see above); usually empty or one token.
  const std::vector<int32_t>& pending() const { return pending_; }
  // Whether a request is using the sequence now; read tokens() and pending() only when not.
  bool busy() const { return busy_.load(std::memory_order_acquire); }

 private:
  friend class Scheduler;
  std::unique_ptr<KvCache> kv_;
  std::vector<int32_t> tokens_;
  std::vector<int32_t> pending_;
  std::atomic<bool> busy_{false};
};

// The constructor throws Error(InvalidArgument) for values outside the ranges given.
struct SchedulerOptions {
  int threads = 0;                 // decoder threads; 0 = every core
  int max_sequences = 8;           // >= 1; sequences decoded together at most; more requests wait in the queue
  int64_t max_queue = 64;          // >= 0; requests waiting at most; submit() beyond it throws Error(OutOfMemory)
  int64_t prefill_chunk = 256;     // >= 1; prompt tokens of one sequence per step at most
  int64_t max_batch_tokens = 512;  // 1 .. Decoder::kMaxBatch; tokens of all sequences per step at most
  int64_t context = 0;             // context length of new sequences; 0 = the model's training context
  // Pages of new sequences come from this pool (its KV type, page size and byte budget); null =
  // a private f16 pool per sequence. Its geometry must be the model's. A step that needs a page
  // past the budget fails the requests that needed it (outcome.error names the budget).
  std::shared_ptr<KvPagePool> kv_pool = nullptr;
};

struct GenerationRequest {
  std::vector<int32_t> prompt;        // tokens appended to the sequence (the whole prompt for a new one)
  SamplerParams sampling;
  GenerationOptions options;          // max_tokens, stop at end of generation
  std::vector<std::string> stop;      // stop strings: generation ends before the first occurrence
                                      // (matched on bytes; empty strings are ignored)
  std::shared_ptr<Sequence> sequence; // continue this sequence; null = a fresh one
  // Extra outputs for clients that inspect the model (off by default: they cost nothing then).
  int32_t top_probs = 0;              // > 0: per generated token, its step's K most likely tokens
                                      // (engine/sampler/top_probs.h); clamped to the vocabulary
  bool keep_logits = false;           // the last computed position's logits go into the outcome
};

// One event per generated token, in order, plus at most one last event with token -1 carrying
// text released at the end (text held back because it could have begun a stop string, or the
// bytes of an unfinished character as U+FFFD). The events' texts add up to result.text. Text
// that could be the start of a stop string is held back until it is known not to be; a stop
// string and what follows it are never sent.
struct TokenEvent {
  int32_t token;
  std::string text;  // whole UTF-8 characters that became complete (may be empty)
};

// result.finish: Length (max_tokens), EndOfGeneration ("stop": EOS/EOT sampled, or a stop string
// completed; the text ends before it), ContextFull (the sampled token did not fit the context),
// Stopped (cancel(), on_token returned false, the scheduler shut down, or the request failed).
// result.tokens: every generated token (those of a stop string included; EOS/EOT excluded).
// result.prompt_tokens: the size of request.prompt. result.prefill_seconds runs from the first
// step the request took part in to its prompt's last chunk.
struct GenerationOutcome {
  GenerationResult result;            // tokens, text, finish reason, timings
  std::shared_ptr<Sequence> sequence; // the sequence after the request (holds prompt + output)
  std::string error;                  // non-empty when the request failed: a decoder error in one of
                                      // its steps, or an exception thrown by its on_token (finish Stopped)
  // request.top_probs > 0: K = min(top_probs, vocabulary) entries per token of result.tokens, in
  // order, most likely first: top_ids[i*K + j], top_probs[i*K + j].
  int32_t top_k = 0;
  std::vector<int32_t> top_ids;
  std::vector<float> top_probs;
  // request.keep_logits: the logits of the last computed position (the distribution the last
  // generated token was drawn from; with max_tokens 0, the one following the prompt); n_vocab
  // floats, empty when no position was computed.
  std::vector<float> logits;
};

struct SchedulerStats {
  int64_t queued = 0;        // waiting for a slot
  int64_t running = 0;       // in the batch
  int64_t completed = 0;     // since start
  int64_t tokens_generated = 0;
  uint64_t kv_bytes = 0;     // held by running sequences
  uint64_t scratch_bytes = 0; // the decoder's activation buffers and the running requests' logits
};

class RequestHandle {
 public:
  // Asks the scheduler to stop the request at its next step; on_done still runs (finish Stopped).
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

class Scheduler {
 public:
  using OnToken = std::function<bool(const TokenEvent&)>;  // false = cancel
  // The outcome is the callback's to keep: the scheduler holds no reference to the sequence once
  // it is handed over, so a callback that moves it away (and later drops it) frees its KV pages
  // at once, without racing the scheduler thread.
  using OnDone = std::function<void(GenerationOutcome)>;

  Scheduler(const Model& model, SchedulerOptions options);
  ~Scheduler();  // cancels everything, runs pending on_done callbacks, joins the thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Throws Error(InvalidArgument) for bad sampling parameters, an empty
  // prompt on a fresh sequence, a prompt token outside the vocabulary, max_tokens < 0, a
  // sequence of another model's shape, or a busy sequence; Error(OutOfMemory) when the queue is
  // full (max_sequences running and max_queue waiting) or the sequence's tokens, pending tokens
  // and prompt do not fit its context; Error(Unsupported) while the scheduler shuts down. An
  // empty prompt on a sequence that holds tokens continues generating from where it stopped.
  // max_tokens == 0 computes the prompt only (e.g. to warm a session's cache).
  std::shared_ptr<RequestHandle> submit(GenerationRequest request, OnToken on_token, OnDone on_done);

  // A new, empty sequence with this scheduler's context length.
  std::shared_ptr<Sequence> new_sequence() const;

  SchedulerStats stats() const;
  const Model& model() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
