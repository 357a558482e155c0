#include "daemon/api/generation.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <random>

#include "daemon/api/api_error.h"
#include "daemon/api/output_format.h"
#include "daemon/log/logger.h"
#include "daemon/metrics/metrics.h"
#include "daemon/models/model_registry.h"
#include "daemon/sessions/random_id.h"
#include "daemon/sessions/session_eviction.h"
#include "daemon/sessions/session_snapshots.h"
#include "daemon/sessions/session_store.h"
#include "engine/chat/chat_template.h"
#include "engine/chat/fim.h"
#include "engine/core/error.h"
#include "engine/model/memory_estimate.h"
#include "engine/scheduler/scheduler.h"
#include "engine/tokenizer/tokenizer.h"

namespace strata::daemon {
namespace {

std::string_view openai_finish(FinishReason f) {
  return f == FinishReason::Length || f == FinishReason::ContextFull ? "length" : "stop";
}

ApiError engine_error(const Error& e) {
  switch (e.kind()) {
    case ErrorKind::InvalidArgument: return bad_request("invalid_request", e.what());
    case ErrorKind::Unsupported: return bad_request("unsupported", e.what());
    case ErrorKind::OutOfMemory: return rate_limited("queue_full", e.what());
    default: return server_error("engine_error", e.what());
  }
}

uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
 public:
  GenerationJob(ApiState& st, GenerationPlan plan, std::shared_ptr<Exchange> ex)
      : st_(st), plan_(std::move(plan)), ex_(std::move(ex)) {
    ids_.created = static_cast<int64_t>(std::time(nullptr));
    ids_.model = plan_.fields.model;
    if (plan_.kind == OutputKind::Completion) ids_.id = "cmpl-" + random_hex(12);
    if (plan_.kind == OutputKind::Chat) ids_.id = "chatcmpl-" + random_hex(12);
  }

  void start() {
    std::weak_ptr<GenerationJob> weak = shared_from_this();
    ex_->on_client_gone([weak] {
      if (auto self = weak.lock()) self->cancel();
    });
    cancel_key_ = st_.generations.add([weak] {
      if (auto self = weak.lock()) self->cancel();
    });
    st_.ctx.models.acquire(plan_.fields.model,
                           [self = shared_from_this()](AcquireResult r) { self->on_model(std::move(r)); });
  }

 private:
  void cancel() {
    cancelled_.store(true, std::memory_order_relaxed);
    if (handle_) handle_->cancel();
  }

  void on_model(AcquireResult r) {
    using F = AcquireResult::Failure;
    switch (r.failure) {
      case F::None: break;
      case F::UnknownModel: return fail(unknown_model(st_, plan_.fields.model));
      case F::LoadFailed: return fail(server_error("model_load_failed", r.message));
      case F::OverBudget: return fail(rate_limited("memory_budget", r.message));
      case F::ShuttingDown: return fail(ApiError(503, "server_error", "shutting_down", r.message));
    }
    if (cancelled_.load()) return cleanup();
    lease_ = std::move(r.lease);
    try {
      submit();
    } catch (const ApiError& e) {
      fail(e);
    } catch (const Error& e) {
      fail(engine_error(e));
    } catch (const std::exception& e) {
      fail(server_error("internal", e.what()));
    }
  }

  std::vector<int32_t> checked_tokens(const LoadedModel& m) const {
    const int32_t n = m.tokenizer().n_vocab();
    for (int32_t t : plan_.prompt.tokens)
      if (t < 0 || t >= n)
        throw bad_request("invalid_token", "token id " + std::to_string(t) + " is outside the vocabulary of model '" +
                                               m.name() + "' (" + std::to_string(n) + " tokens)");
    return plan_.prompt.tokens;
  }

  std::vector<int32_t> prompt_tokens(const LoadedModel& m) const {
    const Tokenizer& tok = m.tokenizer();
    switch (plan_.kind) {
      case OutputKind::Completion:
        if (plan_.suffix) {
          try {
            return build_fim_prompt(tok, plan_.prompt.text, *plan_.suffix, "model '" + m.name() + "'");
          } catch (const Error& e) {
            throw bad_request("fim_unsupported", e.what());
          }
        }
        return plan_.prompt.is_tokens ? checked_tokens(m) : tok.encode(plan_.prompt.text, true, true);
      case OutputKind::Chat: {
        if (!m.chat_template()) throw bad_request("unsupported_chat_template", m.chat_error());
        std::string text;
        try {
          text = format_chat(*m.chat_template(), plan_.messages, true);
        } catch (const Error& e) {
          throw bad_request("invalid_messages", e.what());
        }
        return tok.encode(text, true, true);
      }
      case OutputKind::Native:
        // A new session starts with BOS; a continued one appends plain text.
        return plan_.prompt.is_tokens ? checked_tokens(m) : tok.encode(plan_.prompt.text, plan_.session.empty(), true);
    }
    return {};
  }

  Session* attach_session() {
    SessionStore& store = st_.ctx.sessions;
    if (plan_.session.empty()) {
      Session* s = store.create(plan_.peer.uid, plan_.fields.model);
      if (!s) throw rate_limited("too_many_sessions", "the daemon holds the most sessions it may; delete some");
      new_session_ = true;
      session_id_ = s->id;
      return s;
    }
    Session* s = is_session_id(plan_.session) ? store.find(plan_.session, plan_.peer.uid) : nullptr;
    if (!s)
      throw not_found("session_not_found",
                      "no session '" + plan_.session.substr(0, 64) + "'");  // body() keeps it valid UTF-8
    if (s->model != plan_.fields.model)
      throw bad_request("session_model_mismatch",
                        "session " + s->id + " belongs to model '" + s->model + "', not '" + plan_.fields.model + "'");
    if (s->busy)
      throw ApiError(409, "invalid_request_error", "session_busy",
                     "session " + s->id + " is busy with another request");
    session_id_ = s->id;
    return s;
  }

  void submit() {
    const LoadedModel& m = lease_->model();
    std::vector<int32_t> tokens = prompt_tokens(m);
    prompt_count_ = static_cast<int64_t>(tokens.size());

    GenerationRequest req;
    req.sampling = plan_.fields.sampling;
    if (!plan_.fields.seed_given) req.sampling.seed = random_seed();
    req.options.max_tokens = plan_.fields.max_tokens;
    req.stop = plan_.fields.stop;
    req.top_probs = plan_.top_probs;
    req.keep_logits = plan_.logits;
    if (plan_.shm_output) check_shm_output_room(m);

    Session* session = plan_.kind == OutputKind::Native ? attach_session() : nullptr;
    try {
      int64_t held = 0;  // tokens already in the sequence's context
      SessionSnapshots* snapshots = st_.ctx.sessions.snapshots();
      SessionSnapshots::Restored restored_prefix;
      if (session && !session->sequence && !session->history.empty() && snapshots) {
        // Its KV may be on disk (after a restart or an unload): restore the verified prefix; the
        // rest of the history becomes the sequence's pending tokens, prefilled below.
        auto restored = snapshots->restore(*session, m);
        if (restored.sequence) {
          session->sequence = std::move(restored.sequence);
          restored_tokens_ = restored.restored_tokens;
        }
      }
      if (session && session->sequence) {
        req.sequence = session->sequence;
        held = static_cast<int64_t>(session->sequence->tokens().size() + session->sequence->pending().size());
        prefilled_tokens_ = static_cast<int64_t>(session->sequence->pending().size() + tokens.size());
        req.prompt = std::move(tokens);
      } else if (session && new_session_ && snapshots &&
                 (restored_prefix = snapshots->restore_prefix(tokens, plan_.peer.uid, m)).sequence) {
        // A new session whose prompt starts with pages stored for this uid: reuse their KV.
        req.sequence = restored_prefix.sequence;
        held = restored_prefix.restored_tokens;
        restored_tokens_ = restored_prefix.restored_tokens;
        req.prompt.assign(tokens.begin() + restored_prefix.restored_tokens, tokens.end());
        prefilled_tokens_ = static_cast<int64_t>(req.prompt.size());
        fallback_history_ = tokens;
      } else if (session) {
        // No KV (new session, or its model was unloaded since): prefill the whole history.
        req.prompt = session->history;
        req.prompt.insert(req.prompt.end(), tokens.begin(), tokens.end());
        fallback_history_ = req.prompt;
        prefilled_tokens_ = static_cast<int64_t>(req.prompt.size());
      } else {
        req.prompt = std::move(tokens);
      }
      if (!req.sequence && req.prompt.empty())
        throw bad_request("empty_prompt", "the prompt is empty and model '" + m.name() + "' adds no BOS token");
      const int64_t needed = held + static_cast<int64_t>(req.prompt.size());
      if (needed > m.context())
        throw bad_request("context_length_exceeded", "the context needs " + std::to_string(needed) +
                                                         " tokens but model '" + m.name() + "' has a context of " +
                                                         std::to_string(m.context()));
      if (const uint64_t budget = st_.ctx.models.memory_budget()) {
        // Admission uses the same estimator as `strata memory`: the KV pages this request's
        // context will need at most (held + prompt + max_tokens), beyond what it holds already.
        // Sessions' KV pages come from the models' pools, which memory_in_use() counts.
        const uint64_t used = st_.ctx.models.memory_in_use();
        const int64_t final_tokens = std::min<int64_t>(needed + std::max<int64_t>(req.options.max_tokens, 0), m.context());
        const uint64_t kv_needed = estimate_memory(m.model(), final_tokens, m.kv_type()).kv_bytes;
        const uint64_t kv_held = req.sequence ? req.sequence->kv().allocated_bytes() : 0;
        const uint64_t growth = kv_needed > kv_held ? kv_needed - kv_held : 0;
        // Past the budget: idle sessions' KV is saved to the snapshot store and dropped (LRU
        // first) to make room; refused only when that cannot.
        if (used + growth > budget &&
            !evict_idle_sessions_for(growth, session, st_.ctx.sessions, st_.ctx.models, st_.ctx.metrics, st_.ctx.log).fits)
          throw rate_limited("memory_budget", "this request's context of " + std::to_string(final_tokens) + " tokens needs " +
                                                  std::to_string(growth) + " more bytes of KV cache; models and sessions use " +
                                                  std::to_string(st_.ctx.models.memory_in_use()) +
                                                  " bytes of the memory budget of " + std::to_string(budget) +
                                                  " and no idle session's KV can be evicted to make room; delete sessions, "
                                                  "lower max_tokens or retry later");
      }
      if (!session) fallback_history_.clear();

      const bool stream = plan_.fields.stream;
      auto self = shared_from_this();
      auto on_token = [self, stream](const TokenEvent& ev) {
        if (stream) self->st_.ctx.post([self, ev] { self->on_token(ev); });
        return !self->cancelled_.load(std::memory_order_relaxed);
      };
      auto on_done = [self](GenerationOutcome out) {
        self->st_.ctx.post([self, out = std::move(out)] { self->on_done(out); });
      };
      handle_ = m.scheduler().submit(std::move(req), std::move(on_token), std::move(on_done));
    } catch (...) {
      if (new_session_) st_.ctx.sessions.erase(session_id_);
      throw;
    }
    if (session) session->busy = true;
    if (cancelled_.load()) handle_->cancel();
    if (plan_.fields.stream) {
      streaming_ = true;
      ex_->start_events();
      if (plan_.kind == OutputKind::Chat) ex_->send_event(chat_first_chunk(ids_));
    }
  }

  // The channel must hold the most the request can write (max_tokens steps), known now that the
  // vocabulary is: refusing at the start beats failing after the generation.
  void check_shm_output_room(const LoadedModel& m) const {
    const uint64_t n_vocab = static_cast<uint64_t>(m.tokenizer().n_vocab());
    const uint64_t k = std::min<uint64_t>(static_cast<uint64_t>(plan_.top_probs), n_vocab);
    const uint64_t need = static_cast<uint64_t>(plan_.fields.max_tokens) * k * 8 + (plan_.logits ? n_vocab * 4 : 0);
    const uint64_t size = plan_.shm_output->segment->size();
    if (plan_.shm_output_offset + need > size)
      throw bad_request("shm_too_small", "the outputs need " + std::to_string(need) + " bytes from shm.output_offset " +
                                             std::to_string(plan_.shm_output_offset) + " but the channel holds " +
                                             std::to_string(size) + " bytes");
  }

  // Writes top_probs and logits into the output channel: token ids, then probabilities, then
  // logits, each packed. Fills the offsets of `in`; false when the segment was shrunk meanwhile.
  bool write_shm_output(const GenerationOutcome& out, InspectOutputs& in) const {
    const ShmSegment& seg = *plan_.shm_output->segment;
    auto bytes = [](auto span) { return std::as_bytes(span); };
    auto put = [&](uint64_t at, std::span<const std::byte> b) {
      return b.empty() || seg.write(at, {reinterpret_cast<const char*>(b.data()), b.size()});
    };
    in.shm_channel = plan_.shm_output->id;
    in.ids_offset = plan_.shm_output_offset;
    in.probs_offset = in.ids_offset + out.top_ids.size() * sizeof(int32_t);
    in.logits_offset = in.probs_offset + out.top_probs.size() * sizeof(float);
    return put(in.ids_offset, bytes(std::span(out.top_ids))) && put(in.probs_offset, bytes(std::span(out.top_probs))) &&
           put(in.logits_offset, bytes(std::span(out.logits)));
  }

  void on_token(const TokenEvent& ev) {
    if (finished_ || !streaming_) return;
    switch (plan_.kind) {
      case OutputKind::Completion:
        if (!ev.text.empty()) ex_->send_event(completion_chunk(ids_, ev.text));
        break;
      case OutputKind::Chat:
        if (!ev.text.empty()) ex_->send_event(chat_chunk(ids_, ev.text));
        break;
      case OutputKind::Native: ex_->send_event(native_token_event(ev.token, ev.text)); break;
    }
  }

  void update_session(const GenerationOutcome& out) {
    Session* s = st_.ctx.sessions.find(session_id_, plan_.peer.uid);
    if (!s) return;
    s->busy = false;
    st_.ctx.sessions.touch(*s);
    if (out.sequence) {
      // The sequence's text is tokens() followed by pending() (see engine/scheduler).
      s->sequence = out.sequence;
      s->history = out.sequence->tokens();
      s->history.insert(s->history.end(), out.sequence->pending().begin(), out.sequence->pending().end());
      s->kv_bytes = out.sequence->kv().allocated_bytes();
    } else {
      s->sequence.reset();
      s->kv_bytes = 0;
      if (!fallback_history_.empty()) s->history = fallback_history_;
      s->history.insert(s->history.end(), out.result.tokens.begin(), out.result.tokens.end());
    }
  }

  void on_done(const GenerationOutcome& out) {
    if (plan_.kind == OutputKind::Native) update_session(out);
    if (finished_) return;
    const GenerationResult& r = out.result;
    st_.ctx.metrics.add_generated_tokens(static_cast<int64_t>(r.tokens.size()));
    st_.ctx.metrics.add_prompt_tokens(prompt_count_);
    if (!out.error.empty()) return fail(server_error("generation_failed", out.error));

    Usage usage{prompt_count_, static_cast<int64_t>(r.tokens.size())};
    usage.restored_tokens = restored_tokens_;
    usage.prefilled_tokens = prefilled_tokens_;
    if (plan_.kind == OutputKind::Native)
      if (SessionSnapshots* snapshots = st_.ctx.sessions.snapshots()) snapshots->count_prefilled(prefilled_tokens_);
    const std::string_view finish = openai_finish(r.finish);
    InspectOutputs inspect;
    inspect.top_k = plan_.top_probs > 0 ? out.top_k : 0;
    inspect.top_ids = out.top_ids;
    inspect.top_probs = out.top_probs;
    inspect.logits = plan_.logits;
    inspect.logit_values = out.logits;
    if (plan_.shm_output && !write_shm_output(out, inspect))
      return fail(bad_request("shm_out_of_range", "the channel's segment was shrunk before the outputs were written"));
    if (streaming_) {
      switch (plan_.kind) {
        case OutputKind::Completion: ex_->send_event(completion_last_chunk(ids_, finish, usage)); break;
        case OutputKind::Chat: ex_->send_event(chat_last_chunk(ids_, finish, usage)); break;
        case OutputKind::Native:
          ex_->send_event(native_body(session_id_, plan_.fields.model, r.text, r.tokens, finish_reason_name(r.finish),
                                      usage, &inspect));
          break;
      }
      ex_->send_event("[DONE]");
      ex_->end_events();
    } else {
      switch (plan_.kind) {
        case OutputKind::Completion: respond_json(*ex_, 200, completion_body(ids_, r.text, finish, usage)); break;
        case OutputKind::Chat: respond_json(*ex_, 200, chat_body(ids_, r.text, finish, usage)); break;
        case OutputKind::Native:
          respond_json(*ex_, 200,
                       native_body(session_id_, plan_.fields.model, r.text, r.tokens, finish_reason_name(r.finish),
                                   usage, &inspect));
          break;
      }
    }
    cleanup();
  }

  void fail(const ApiError& e) {
    if (finished_) return;
    if (streaming_) {
      // The status line is gone already: the error travels as the last event.
      ex_->send_event(e.body());
      ex_->end_events();
    } else {
      respond_error(*ex_, e);
    }
    cleanup();
  }

  // Releases the model and the exchange here, on the I/O thread: the job itself may be freed
  // later on the scheduler's thread (its callbacks hold it).
  void cleanup() {
    finished_ = true;
    lease_.reset();
    handle_.reset();
    ex_.reset();
    st_.generations.remove(cancel_key_);
  }

  ApiState& st_;
  GenerationPlan plan_;
  std::shared_ptr<Exchange> ex_;
  std::shared_ptr<ModelLease> lease_;
  std::shared_ptr<RequestHandle> handle_;
  std::atomic<bool> cancelled_{false};
  uint64_t cancel_key_ = 0;
  ResponseIds ids_;
  std::string session_id_;
  bool new_session_ = false;
  int64_t prompt_count_ = 0;
  int64_t restored_tokens_ = 0;   // history tokens whose KV came from a snapshot
  int64_t prefilled_tokens_ = 0;  // tokens this request computes before sampling (history and prompt)
  std::vector<int32_t> fallback_history_;  // session history + prompt, when the session had no sequence
  bool streaming_ = false;
  bool finished_ = false;
};

}  // namespace

void start_generation(ApiState& st, GenerationPlan plan, std::shared_ptr<Exchange> ex) {
  std::make_shared<GenerationJob>(st, std::move(plan), std::move(ex))->start();
}

}  // namespace strata::daemon
