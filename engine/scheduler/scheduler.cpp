#include "engine/scheduler/scheduler.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "engine/core/error.h"
#include "engine/decode/decoder.h"
#include "engine/kv/kv_page_pool.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "engine/sampler/top_probs.h"
#include "engine/scheduler/stop_matcher.h"
#include "engine/threads/thread_pool.h"
#include "engine/tokenizer/streaming_detokenizer.h"

namespace strata {

Sequence::Sequence(std::unique_ptr<KvCache> kv, std::vector<int32_t> tokens, std::vector<int32_t> pending)
    : kv_(std::move(kv)), tokens_(std::move(tokens)), pending_(std::move(pending)) {
  if (!kv_) throw Error(ErrorKind::InvalidArgument, "Sequence: no KV cache");
  if (kv_->size() != static_cast<int64_t>(tokens_.size()))
    throw Error(ErrorKind::InvalidArgument, "Sequence: the KV cache holds " + std::to_string(kv_->size()) +
                                                " tokens but " + std::to_string(tokens_.size()) + " were given");
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string what_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

// One request, from submit() to on_done. Owned by the queue, then by the running batch; only
// the scheduler thread touches it once it is queued.
struct Active {
  Active(const Tokenizer& tokenizer, const SamplerParams& params, std::vector<std::string> stops)
      : sampler(params), detok(tokenizer), stop(std::move(stops)) {}

  GenerationRequest request;  // prompt and stop strings moved out into feed / stop
  Scheduler::OnToken on_token;
  Scheduler::OnDone on_done;
  std::shared_ptr<RequestHandle> handle;
  std::shared_ptr<Sequence> seq;
  Sampler sampler;
  StreamingDetokenizer detok;
  StopMatcher stop;

  // Tokens to compute, in order: the sequence's pending tokens and the prompt, later the one
  // token just sampled. feed[fed..] is not in the KV yet; `chunk` of them go in this step.
  std::vector<int32_t> feed;
  size_t fed = 0;
  size_t chunk = 0;
  bool decoding = false;  // the prompt is computed; feed holds the last sampled token
  bool admitted = false;   // in the running batch (counted in n_running)
  bool scheduled = false;  // had tokens in a step
  bool done = false;
  std::vector<float> logits;  // of the last computed token, n_vocab floats
  std::vector<int32_t> top_ids;  // request.top_probs > 0: per generated token (see GenerationOutcome)
  std::vector<float> top_probs;

  GenerationResult result;
  Clock::time_point t_start, t_first_token;
};

}  // namespace

struct Scheduler::Impl {
  Impl(const Model& m, SchedulerOptions o);

  void main();
  void admit(std::vector<std::unique_ptr<Active>>& admitted);
  void prepare(std::unique_ptr<Active> a);
  void step();
  bool run_items();
  void after_compute(Active& a);
  void finish(Active& a, FinishReason reason, std::string error = {});
  void release_text(Active& a);
  bool call_on_token(Active& a, int32_t token, std::string text);
  void update_memory_counters();

  const Model& model;
  const SchedulerOptions opt;
  const Tokenizer& tokenizer;
  const int64_t context;
  ThreadPool pool;
  Decoder decoder;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Active>> queue;  // guarded by mu
  bool stopping = false;                      // guarded by mu

  // Scheduler thread only.
  std::vector<std::unique_ptr<Active>> running;  // in admission order
  std::vector<DecodeItem> items;                 // this step's items, reused
  std::vector<Active*> owners;                   // items[i] belongs to owners[i]
  std::vector<int64_t> sizes_before;             // KV sizes before the step, to undo a failed one
  std::vector<char> item_ok;
  std::vector<int32_t> top_order;                // scratch of append_top_probs
  uint64_t step_count = 0;

  // n_running changes under mu when a request is admitted (so that submit() sees queue and
  // batch consistently), and without it when one finishes.
  std::atomic<int64_t> n_queued{0}, n_running{0}, n_completed{0}, n_tokens{0};
  std::atomic<uint64_t> kv_bytes{0}, scratch_bytes{0};

  std::thread thread;
};

Scheduler::Impl::Impl(const Model& m, SchedulerOptions o)
    : model(m),
      opt(o),
      tokenizer(m.tokenizer()),
      context(o.context > 0 ? o.context : static_cast<int64_t>(m.desc().n_ctx_train)),
      pool(o.threads),
      decoder(m, pool) {}

Scheduler::Scheduler(const Model& model, SchedulerOptions options) {
  auto bad = [](const std::string& what) { throw Error(ErrorKind::InvalidArgument, "SchedulerOptions." + what); };
  if (options.threads < 0) bad("threads must be >= 0, got " + std::to_string(options.threads));
  if (options.max_sequences < 1) bad("max_sequences must be >= 1, got " + std::to_string(options.max_sequences));
  if (options.max_queue < 0) bad("max_queue must be >= 0, got " + std::to_string(options.max_queue));
  if (options.prefill_chunk < 1) bad("prefill_chunk must be >= 1, got " + std::to_string(options.prefill_chunk));
  if (options.max_batch_tokens < 1 || options.max_batch_tokens > Decoder::kMaxBatch)
    bad("max_batch_tokens must be in [1, " + std::to_string(Decoder::kMaxBatch) + "], got " +
        std::to_string(options.max_batch_tokens));
  if (options.context < 0) bad("context must be >= 0, got " + std::to_string(options.context));
  if (options.kv_pool) {
    const auto& d = model.desc();
    const KvGeometry& g = options.kv_pool->geometry();
    if (g.n_layer != int(d.n_layer) || g.n_head_kv != int(d.n_head_kv) || g.head_dim != int(d.head_dim))
      bad("kv_pool: its geometry does not match model " + model.name());
  }
  impl_ = std::make_unique<Impl>(model, options);
  if (impl_->context <= 0) bad("context must be given: the model does not state its training context");
  Impl* p = impl_.get();
  impl_->thread = std::thread([p] { p->main(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->thread.join();
}

const Model& Scheduler::model() const { return impl_->model; }

std::shared_ptr<Sequence> Scheduler::new_sequence() const {
  if (impl_->opt.kv_pool)
    return std::make_shared<Sequence>(std::make_unique<SequenceKvCache>(impl_->opt.kv_pool, impl_->context));
  const auto& d = impl_->model.desc();
  const KvGeometry geo{static_cast<int>(d.n_layer), static_cast<int>(d.n_head_kv), static_cast<int>(d.head_dim)};
  return std::make_shared<Sequence>(std::make_unique<SequenceKvCache>(geo, impl_->context));
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s;
  s.queued = impl_->n_queued.load(std::memory_order_relaxed);
  s.running = impl_->n_running.load(std::memory_order_relaxed);
  s.completed = impl_->n_completed.load(std::memory_order_relaxed);
  s.tokens_generated = impl_->n_tokens.load(std::memory_order_relaxed);
  s.kv_bytes = impl_->kv_bytes.load(std::memory_order_relaxed);
  s.scratch_bytes = impl_->scratch_bytes.load(std::memory_order_relaxed);
  return s;
}

std::shared_ptr<RequestHandle> Scheduler::submit(GenerationRequest request, OnToken on_token, OnDone on_done) {
  Impl& im = *impl_;
  const int32_t n_vocab = im.decoder.n_vocab();
  for (int32_t t : request.prompt)
    if (t < 0 || t >= n_vocab)
      throw Error(ErrorKind::InvalidArgument, "prompt token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                                  std::to_string(n_vocab - 1) + ")");
  if (request.options.max_tokens < 0)
    throw Error(ErrorKind::InvalidArgument,
                "max_tokens must be >= 0, got " + std::to_string(request.options.max_tokens));
  auto a = std::make_unique<Active>(im.tokenizer, request.sampling, std::move(request.stop));  // validates sampling

  std::shared_ptr<Sequence> seq = request.sequence ? request.sequence : new_sequence();
  const auto& d = im.model.desc();
  const KvGeometry& g = seq->kv().geometry();
  if (g.n_layer != static_cast<int>(d.n_layer) || g.n_head_kv != static_cast<int>(d.n_head_kv) ||
      g.head_dim != static_cast<int>(d.head_dim))
    throw Error(ErrorKind::InvalidArgument, "the sequence's KV cache does not fit model " + im.model.name());
  bool expected = false;
  if (!seq->busy_.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
    throw Error(ErrorKind::InvalidArgument, "the sequence is busy with another request");
  // From here the sequence is ours: release it on every way out but the queue.
  struct Release {
    Sequence* s;
    ~Release() {
      if (s) s->busy_.store(false, std::memory_order_release);
    }
  } release{seq.get()};

  const int64_t held = static_cast<int64_t>(seq->tokens_.size());
  const int64_t total = held + static_cast<int64_t>(seq->pending_.size() + request.prompt.size());
  if (total == 0) throw Error(ErrorKind::InvalidArgument, "empty prompt on a fresh sequence");
  if (total > seq->kv().capacity())
    throw Error(ErrorKind::OutOfMemory, "the prompt does not fit the context: " + std::to_string(total) +
                                            " tokens, the context holds " + std::to_string(seq->kv().capacity()));

  a->feed.reserve(seq->pending_.size() + request.prompt.size());
  a->feed = seq->pending_;
  a->feed.insert(a->feed.end(), request.prompt.begin(), request.prompt.end());
  a->result.prompt_tokens = static_cast<int64_t>(request.prompt.size());
  request.prompt.clear();
  request.sequence.reset();
  a->request = std::move(request);
  a->on_token = std::move(on_token);
  a->on_done = std::move(on_done);
  a->handle = std::make_shared<RequestHandle>();
  a->seq = seq;
  auto handle = a->handle;

  {
    std::lock_guard lock(im.mu);
    if (im.stopping) throw Error(ErrorKind::Unsupported, "the scheduler is shutting down");
    const int64_t in_system = static_cast<int64_t>(im.queue.size()) + im.n_running.load(std::memory_order_relaxed);
    if (in_system >= im.opt.max_sequences + im.opt.max_queue)
      throw Error(ErrorKind::OutOfMemory, "the request queue is full (" + std::to_string(im.opt.max_queue) +
                                              " waiting, " + std::to_string(im.opt.max_sequences) + " running)");
    im.queue.push_back(std::move(a));
    im.n_queued.store(static_cast<int64_t>(im.queue.size()), std::memory_order_relaxed);
    release.s = nullptr;
  }
  im.cv.notify_one();
  return handle;
}

void Scheduler::Impl::main() {
  std::vector<std::unique_ptr<Active>> cancelled, admitted;
  for (;;) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return stopping || !queue.empty() || !running.empty(); });
      if (stopping) break;
      // Queued requests that were cancelled leave without taking a slot.
      for (auto it = queue.begin(); it != queue.end();) {
        if ((*it)->handle->cancelled()) {
          cancelled.push_back(std::move(*it));
          it = queue.erase(it);
        } else {
          ++it;
        }
      }
      admit(admitted);
    }
    for (auto& a : cancelled) finish(*a, FinishReason::Stopped);
    cancelled.clear();
    for (auto& a : admitted) prepare(std::move(a));
    admitted.clear();
    try {
      step();
    } catch (...) {
      // Not a request's own failure (those are handled inside): end the whole batch rather than
      // the process, and go on with the queue.
      const std::string what = what_of(std::current_exception());
      for (auto& a : running) finish(*a, FinishReason::Stopped, "scheduler step failed: " + what);
      running.clear();
      update_memory_counters();
    }
  }

  // Shutting down: everything still here ends as Stopped. New submissions are refused, so the
  // queue only shrinks.
  std::deque<std::unique_ptr<Active>> left;
  {
    std::lock_guard lock(mu);
    left.swap(queue);
    n_queued.store(0, std::memory_order_relaxed);
  }
  for (auto& a : running)
    if (!a->done) finish(*a, FinishReason::Stopped);
  running.clear();
  for (auto& a : left) finish(*a, FinishReason::Stopped);
  update_memory_counters();
}

// Moves queued requests into the batch (under mu; `admitted` gets them); prepare() readies them
// after the lock is released.
void Scheduler::Impl::admit(std::vector<std::unique_ptr<Active>>& admitted) {
  while (!queue.empty() && static_cast<int64_t>(running.size() + admitted.size()) < opt.max_sequences) {
    admitted.push_back(std::move(queue.front()));
    queue.pop_front();
    admitted.back()->admitted = true;
    n_running.fetch_add(1, std::memory_order_relaxed);
  }
  n_queued.store(static_cast<int64_t>(queue.size()), std::memory_order_relaxed);
}

void Scheduler::Impl::prepare(std::unique_ptr<Active> a) {
  try {
    a->logits.resize(decoder.n_vocab());
    running.reserve(static_cast<size_t>(opt.max_sequences));
    Sequence& s = *a->seq;
    s.pending_.clear();  // now at the head of feed
    if (a->feed.empty()) {
      // Nothing new to compute, yet sampling needs the logits of the last token: compute it
      // again. (Only after a request that failed, or for a restored sequence without pending.)
      a->feed.push_back(s.tokens_.back());
      s.tokens_.pop_back();
      s.kv_->truncate(s.kv_->size() - 1);
    }
    running.push_back(std::move(a));
  } catch (...) {
    finish(*a, FinishReason::Stopped, what_of(std::current_exception()));
  }
}

void Scheduler::Impl::step() {
  for (auto& a : running)
    if (!a->done && a->handle->cancelled()) finish(*a, FinishReason::Stopped);

  // Decoding sequences first (one token each; when the token budget cannot take them all, the
  // first one taken rotates from step to step), then prompt chunks in admission order.
  items.clear();
  owners.clear();
  int64_t budget = opt.max_batch_tokens;
  const size_t count = running.size();
  const size_t first = count > 0 ? (step_count++ % count) : 0;
  for (int pass = 0; pass < 2; ++pass)
    for (size_t j = 0; j < count; ++j) {
      Active& a = *running[pass == 0 ? (first + j) % count : j];
      if (a.done || a.decoding != (pass == 0) || budget == 0) continue;
      const int64_t left = static_cast<int64_t>(a.feed.size() - a.fed);
      const int64_t n = std::min({left, opt.prefill_chunk, budget});
      a.chunk = static_cast<size_t>(n);
      budget -= n;
      const bool last = a.fed + a.chunk == a.feed.size();
      items.push_back({std::span<const int32_t>(a.feed).subspan(a.fed, a.chunk), &a.seq->kv(),
                       last ? a.logits.data() : nullptr, false});
      owners.push_back(&a);
      if (!a.scheduled) {
        a.scheduled = true;
        a.t_start = Clock::now();
      }
    }

  if (!items.empty() && run_items()) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (!item_ok[i]) continue;
      Active& a = *owners[i];
      const auto from = a.feed.begin() + static_cast<std::ptrdiff_t>(a.fed);
      a.seq->tokens_.insert(a.seq->tokens_.end(), from, from + static_cast<std::ptrdiff_t>(a.chunk));
      a.fed += a.chunk;
      a.chunk = 0;
      if (a.fed == a.feed.size()) after_compute(a);
    }
  }

  std::erase_if(running, [](const std::unique_ptr<Active>& a) { return a->done; });
  update_memory_counters();
}

// Runs this step's items in one batched pass. When the pass fails, each item is retried alone so
// that only the requests whose own input fails are failed. Sets item_ok; false when none ran.
bool Scheduler::Impl::run_items() {
  sizes_before.clear();
  for (const auto& it : items) sizes_before.push_back(it.kv->size());
  item_ok.assign(items.size(), 1);
  auto undo = [&](size_t i) {
    if (items[i].kv->size() != sizes_before[i]) items[i].kv->truncate(sizes_before[i]);
  };
  std::exception_ptr batch_error;
  try {
    decoder.forward(items);
    return true;
  } catch (...) {
    batch_error = std::current_exception();
  }
  for (size_t i = 0; i < items.size(); ++i) undo(i);
  if (items.size() == 1) {
    item_ok[0] = 0;
    finish(*owners[0], FinishReason::Stopped, what_of(batch_error));
    return false;
  }
  bool any = false;
  for (size_t i = 0; i < items.size(); ++i) {
    try {
      decoder.forward(std::span<const DecodeItem>(&items[i], 1));
      any = true;
    } catch (...) {
      undo(i);
      item_ok[i] = 0;
      finish(*owners[i], FinishReason::Stopped, what_of(std::current_exception()));
    }
  }
  return any;
}

// Everything in feed is computed and a.logits holds the last token's logits: sample the next
// token, or end the request.
void Scheduler::Impl::after_compute(Active& a) {
  const auto now = Clock::now();
  if (!a.decoding) {
    a.decoding = true;
    a.result.prefill_seconds = seconds_between(a.t_start, now);
    a.t_first_token = now;
  }
  const GenerationOptions& o = a.request.options;
  if (static_cast<int64_t>(a.result.tokens.size()) >= o.max_tokens) return finish(a, FinishReason::Length);

  int32_t token;
  try {
    token = a.sampler.sample(a.logits, a.seq->tokens_);
  } catch (...) {
    return finish(a, FinishReason::Stopped, what_of(std::current_exception()));
  }
  // The sampled token is the next to compute: pending if the request ends now.
  a.feed.assign(1, token);
  a.fed = 0;
  if (o.stop_at_end_of_generation && tokenizer.is_eog(token)) return finish(a, FinishReason::EndOfGeneration);

  if (a.request.top_probs > 0) {
    try {
      append_top_probs(a.logits, a.request.top_probs, a.top_ids, a.top_probs, top_order);
    } catch (...) {
      return finish(a, FinishReason::Stopped, what_of(std::current_exception()));
    }
  }
  a.result.tokens.push_back(token);
  n_tokens.fetch_add(1, std::memory_order_relaxed);
  std::string text = a.stop.push(a.detok.push(token));
  a.result.text += text;
  if (a.stop.stopped()) {
    call_on_token(a, token, std::move(text));
    if (!a.done) finish(a, FinishReason::EndOfGeneration);
    return;
  }
  if (!call_on_token(a, token, std::move(text))) {
    if (!a.done) finish(a, FinishReason::Stopped);
    return;
  }
  if (static_cast<int64_t>(a.result.tokens.size()) >= o.max_tokens) return finish(a, FinishReason::Length);
  if (a.seq->kv().size() >= a.seq->kv().capacity()) return finish(a, FinishReason::ContextFull);
}

// Calls on_token; false when the request should stop. An exception from the callback fails the
// request (then a.done is set).
bool Scheduler::Impl::call_on_token(Active& a, int32_t token, std::string text) {
  if (!a.on_token) return true;
  try {
    return a.on_token(TokenEvent{token, std::move(text)});
  } catch (...) {
    finish(a, FinishReason::Stopped, "on_token callback failed: " + what_of(std::current_exception()));
    return false;
  }
}

// The text still held at the end: an unfinished character and text held back for stop strings.
void Scheduler::Impl::release_text(Active& a) {
  std::string tail = a.stop.push(a.detok.flush());
  tail += a.stop.flush();
  if (tail.empty()) return;
  a.result.text += tail;
  if (a.on_token) {
    try {
      a.on_token(TokenEvent{-1, std::move(tail)});
    } catch (...) {
      // The request is ending anyway; its text is in the outcome.
    }
  }
}

void Scheduler::Impl::finish(Active& a, FinishReason reason, std::string error) {
  if (a.done) return;
  a.done = true;
  const auto now = Clock::now();
  if (a.decoding) a.result.decode_seconds = seconds_between(a.t_first_token, now);
  a.result.finish = reason;
  Sequence& s = *a.seq;
  if (error.empty()) {
    if (!a.stop.stopped()) release_text(a);
    s.pending_.assign(a.feed.begin() + static_cast<std::ptrdiff_t>(a.fed), a.feed.end());
  } else {
    s.pending_.clear();
  }
  GenerationOutcome outcome;
  outcome.result = std::move(a.result);
  outcome.sequence = std::move(a.seq);  // `s` stays valid through outcome; a.done guards every other use
  outcome.error = std::move(error);
  if (a.request.top_probs > 0) {
    outcome.top_k = std::min<int32_t>(a.request.top_probs, decoder.n_vocab());
    outcome.top_ids = std::move(a.top_ids);
    outcome.top_probs = std::move(a.top_probs);
  }
  if (a.request.keep_logits && a.decoding) outcome.logits = std::move(a.logits);
  if (a.admitted) n_running.fetch_sub(1, std::memory_order_relaxed);
  n_completed.fetch_add(1, std::memory_order_relaxed);
  // Free the sequence before on_done, so that the callback may continue it at once; and take
  // the request out of the memory counters, so that whoever reads them after hearing of the
  // end (a client asking /status once it has its answer) no longer sees its KV or its logits.
  s.busy_.store(false, std::memory_order_release);
  update_memory_counters();
  if (a.on_done) {
    try {
      a.on_done(std::move(outcome));
    } catch (...) {
      // Nothing can report it: the request is over.
    }
  }
}

// The buffers live on this thread; other threads read the counters (stats()).
void Scheduler::Impl::update_memory_counters() {
  uint64_t kv = 0, scratch = decoder.scratch_bytes();
  for (const auto& a : running) {
    if (a->done) continue;  // leaves the batch at the end of this step
    kv += a->seq->kv().allocated_bytes();
    scratch += a->logits.capacity() * sizeof(float);
  }
  kv_bytes.store(kv, std::memory_order_relaxed);
  scratch_bytes.store(scratch, std::memory_order_relaxed);
}

}  // namespace strata
