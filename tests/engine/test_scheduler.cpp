// Continuous batching: requests that share decoder steps give exactly what each would give alone
// through generate(); long prompts are prefilled in chunks while others keep decoding;
// cancellation, stop strings, queue limits, context limits, failures and shutdown end requests
// cleanly; a continued sequence equals one uninterrupted generation.
#include "engine/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/error.h"
#include "engine/decode/decoder.h"
#include "engine/kv/kv_page_pool.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/sampler/sampler.h"
#include "engine/scheduler/stop_matcher.h"
#include "engine/threads/thread_pool.h"
#include "tests/support/test_paths.h"

namespace strata {
namespace {

using namespace std::chrono_literals;

SamplerParams greedy() {
  SamplerParams p;
  p.temperature = 0;
  return p;
}

SamplerParams sampled(uint64_t seed) {
  SamplerParams p;
  p.temperature = 0.9f;
  p.top_k = 50;
  p.seed = seed;
  return p;
}

GenerationOptions opts(int64_t max_tokens) {
  GenerationOptions o;
  o.max_tokens = max_tokens;
  o.stop_at_end_of_generation = false;  // random weights: keep lengths predictable
  return o;
}

// What one request's callbacks saw.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int32_t> tokens;  // from on_token, -1 excluded
  std::string text;             // concatenated on_token text, including the final -1 event
  bool done = false;
  GenerationOutcome outcome;
  int stop_after = -1;  // on_token returns false after this many tokens

  Scheduler::OnToken on_token() {
    return [this](const TokenEvent& e) {
      std::lock_guard lock(mu);
      if (e.token >= 0) tokens.push_back(e.token);
      text += e.text;
      cv.notify_all();
      return stop_after < 0 || static_cast<int>(tokens.size()) < stop_after;
    };
  }
  long sequence_refs = 0;  // owners of the outcome's sequence while on_done ran
  Scheduler::OnDone on_done() {
    return [this](GenerationOutcome o) {
      std::lock_guard lock(mu);
      sequence_refs = o.sequence.use_count();
      outcome = std::move(o);
      done = true;
      cv.notify_all();
    };
  }
  void wait_done() {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return done; })) << "request did not finish";
  }
  void wait_tokens(size_t n) {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return tokens.size() >= n || done; }));
  }
  size_t n_tokens() {
    std::lock_guard lock(mu);
    return tokens.size();
  }
};

// Lets a test hold the scheduler thread inside a callback.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false, reached = false;
  void wait_here() {
    std::unique_lock lock(mu);
    reached = true;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void wait_reached() {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return reached; }));
  }
  void release() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

// A KV cache that starts failing once it holds `fail_at` tokens (to fail one request's step).
class FailingKvCache final : public KvCache {
 public:
  FailingKvCache(KvGeometry g, int64_t capacity, int64_t fail_at) : inner_(g, capacity), fail_at_(fail_at) {}
  const KvGeometry& geometry() const override { return inner_.geometry(); }
  const KvFormat& format() const override { return inner_.format(); }
  int64_t size() const override { return inner_.size(); }
  int64_t capacity() const override { return inner_.capacity(); }
  void reserve(int64_t n) override { inner_.reserve(n); }
  void write(int layer, int64_t pos, int64_t n, const float* k, const float* v) override {
    if (pos + n > fail_at_) throw Error(ErrorKind::Io, "injected KV failure");
    inner_.write(layer, pos, n, k, v);
  }
  void commit(int64_t new_size) override { inner_.commit(new_size); }
  void truncate(int64_t new_size) override { inner_.truncate(new_size); }
  void spans(int layer, int64_t n, std::vector<KvSpan>& out) const override { inner_.spans(layer, n, out); }
  uint64_t allocated_bytes() const override { return inner_.allocated_bytes(); }

 private:
  SequenceKvCache inner_;
  int64_t fail_at_;
};

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new PluginRegistry(PluginRegistry::load_default());
    model_ = Model::load(test::shared_path("models/llama-2-tiny-random.gguf"), *registry_).release();
    // 4 layers, grouped-query attention, Q8_0 weights: batched matmuls round activations per row.
    mini_ = Model::load(test::shared_path("models/mini-llama2-Q8_0.gguf"), *registry_).release();
  }
  static void TearDownTestSuite() {
    delete mini_;
    delete model_;
    delete registry_;
  }

  static KvGeometry geo(const Model* m = model_) {
    const auto& d = m->desc();
    return {int(d.n_layer), int(d.n_head_kv), int(d.head_dim)};
  }
  static std::vector<int32_t> encode(const std::string& text) { return model_->tokenizer().encode(text, true, false); }

  // The single-sequence reference: generate() on a fresh cache, or on `kv` when given.
  static GenerationResult reference(const std::vector<int32_t>& prompt, int64_t max_tokens,
                                    SamplerParams params = greedy(), KvCache* kv = nullptr, const Model* m = model_) {
    ThreadPool pool(1);
    Decoder decoder(*m, pool);
    SequenceKvCache fresh(geo(m), 4096);
    Sampler sampler(params);
    return generate(decoder, kv ? *kv : fresh, sampler, m->tokenizer(), prompt, opts(max_tokens));
  }

  static void check_concurrent_equals_alone(const Model* m, int64_t n_tokens);

  static SchedulerOptions small_options() {
    SchedulerOptions o;
    o.threads = 2;
    o.max_sequences = 4;
    o.prefill_chunk = 8;
    o.max_batch_tokens = 32;
    return o;
  }

  static GenerationRequest request(std::vector<int32_t> prompt, int64_t max_tokens, SamplerParams params = greedy()) {
    GenerationRequest r;
    r.prompt = std::move(prompt);
    r.sampling = params;
    r.options = opts(max_tokens);
    return r;
  }

  static PluginRegistry* registry_;
  static Model* model_;
  static Model* mini_;
};
PluginRegistry* SchedulerTest::registry_ = nullptr;
Model* SchedulerTest::model_ = nullptr;
Model* SchedulerTest::mini_ = nullptr;

void SchedulerTest::check_concurrent_equals_alone(const Model* m, int64_t kTokens) {
  const std::vector<std::string> texts = {
      "The quick brown fox jumps over the lazy dog, and then it runs into the forest to find",
      "Once upon a time",
      "In 1492, Columbus sailed the ocean blue. The ships were called the Nina, the Pinta and",
      "def fibonacci(n):\n    if n < 2:\n        return n\n",
      "Hello"};
  std::vector<std::vector<int32_t>> prompts;
  std::vector<GenerationResult> refs;
  for (size_t i = 0; i < texts.size(); ++i) {
    prompts.push_back(m->tokenizer().encode(texts[i], true, false));
    // The last request samples (its own seeded Sampler): batching must not disturb it either.
    refs.push_back(reference(prompts[i], kTokens, i + 1 == texts.size() ? sampled(7) : greedy(), nullptr, m));
  }

  SchedulerOptions o = small_options();
  o.max_sequences = 3;  // the others wait in the queue
  Scheduler sched(*m, o);
  std::vector<Recorder> rec(texts.size());
  // Two start together; the rest join while those are decoding.
  for (size_t i = 0; i < texts.size(); ++i) {
    if (i == 2) rec[0].wait_tokens(3);
    if (i == 4) rec[2].wait_tokens(1);
    sched.submit(request(prompts[i], kTokens, i + 1 == texts.size() ? sampled(7) : greedy()), rec[i].on_token(),
                 rec[i].on_done());
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    rec[i].wait_done();
    const GenerationOutcome& out = rec[i].outcome;
    SCOPED_TRACE("request " + std::to_string(i));
    EXPECT_TRUE(out.error.empty()) << out.error;
    EXPECT_EQ(out.result.tokens, refs[i].tokens);
    EXPECT_EQ(out.result.text, refs[i].text);
    EXPECT_EQ(rec[i].tokens, refs[i].tokens);
    EXPECT_EQ(rec[i].text, refs[i].text);
    EXPECT_EQ(out.result.finish, FinishReason::Length);
    EXPECT_EQ(out.result.prompt_tokens, int64_t(prompts[i].size()));
    // The sequence holds the prompt and every generated token but the last, which is pending.
    ASSERT_TRUE(out.sequence);
    std::vector<int32_t> want = prompts[i];
    want.insert(want.end(), refs[i].tokens.begin(), refs[i].tokens.end() - 1);
    EXPECT_EQ(out.sequence->tokens(), want);
    EXPECT_EQ(out.sequence->pending(), std::vector<int32_t>{refs[i].tokens.back()});
    EXPECT_EQ(out.sequence->kv().size(), int64_t(want.size()));
    EXPECT_FALSE(out.sequence->busy());
  }
}

TEST_F(SchedulerTest, ConcurrentRequestsEqualGenerateAlone) { check_concurrent_equals_alone(model_, 24); }
TEST_F(SchedulerTest, ConcurrentRequestsEqualGenerateAloneMultiLayerGqa) { check_concurrent_equals_alone(mini_, 12); }

TEST_F(SchedulerTest, ATinyTokenBudgetStillServesEveryRequest) {
  // Two tokens per step for four sequences: who decodes rotates, nobody starves.
  SchedulerOptions o = small_options();
  o.max_sequences = 4;
  o.max_batch_tokens = 2;
  o.prefill_chunk = 3;
  Scheduler sched(*model_, o);
  std::vector<Recorder> rec(4);
  std::vector<GenerationResult> refs;
  for (int i = 0; i < 4; ++i) {
    const auto p = encode("Budget " + std::to_string(i * 7919));
    refs.push_back(reference(p, 10));
    sched.submit(request(p, 10), rec[i].on_token(), rec[i].on_done());
  }
  for (int i = 0; i < 4; ++i) {
    rec[i].wait_done();
    EXPECT_EQ(rec[i].outcome.result.tokens, refs[i].tokens) << i;
  }
}

TEST_F(SchedulerTest, LongPromptIsPrefilledInChunksWhileOthersDecode) {
  std::string long_text;
  for (int i = 0; i < 30; ++i) long_text += "Sentence number " + std::to_string(i) + " of a long prompt. ";
  const auto long_prompt = encode(long_text);
  ASSERT_GT(long_prompt.size(), 250u);
  const auto short_prompt = encode("A short one");
  const GenerationResult long_ref = reference(long_prompt, 4);
  const GenerationResult short_ref = reference(short_prompt, 80);

  SchedulerOptions o = small_options();
  o.prefill_chunk = 16;
  o.max_batch_tokens = 24;
  Scheduler sched(*model_, o);

  // One log of both requests' tokens, in the order the scheduler thread produced them.
  std::mutex mu;
  std::vector<char> log;
  Recorder short_rec, long_rec;
  auto short_cb = short_rec.on_token();
  auto long_cb = long_rec.on_token();
  sched.submit(request(short_prompt, 80),
               [&](const TokenEvent& e) {
                 if (e.token >= 0) {
                   std::lock_guard lock(mu);
                   log.push_back('s');
                 }
                 return short_cb(e);
               },
               short_rec.on_done());
  short_rec.wait_tokens(2);
  size_t short_before = 0;
  {
    std::lock_guard lock(mu);
    short_before = log.size();
    log.push_back('L');  // the long request is submitted here
  }
  sched.submit(request(long_prompt, 4),
               [&](const TokenEvent& e) {
                 if (e.token >= 0) {
                   std::lock_guard lock(mu);
                   log.push_back('l');
                 }
                 return long_cb(e);
               },
               long_rec.on_done());
  long_rec.wait_done();
  short_rec.wait_done();

  // Between the long request's submission and its first token, its prompt took
  // ceil(n / 16) steps, and the short request produced a token in every one of them.
  const auto submitted = std::find(log.begin(), log.end(), 'L');
  const auto first_long = std::find(log.begin(), log.end(), 'l');
  ASSERT_NE(first_long, log.end());
  const auto interleaved = std::count(submitted, first_long, 's');
  const int64_t chunks = (int64_t(long_prompt.size()) + 15) / 16;
  EXPECT_GE(interleaved, chunks - 2) << "short tokens before: " << short_before;
  EXPECT_EQ(long_rec.outcome.result.tokens, long_ref.tokens);
  EXPECT_EQ(short_rec.outcome.result.tokens, short_ref.tokens);
  EXPECT_GT(long_rec.outcome.result.prefill_seconds, 0.0);
}

TEST_F(SchedulerTest, CancellationStopsOneRequestAndOthersFinish) {
  const auto p0 = encode("First prompt"), p1 = encode("Second prompt here"), p2 = encode("Third");
  const auto ref0 = reference(p0, 40), ref2 = reference(p2, 40);
  Scheduler sched(*model_, small_options());
  Recorder r0, r1, r2;
  r2.stop_after = 3;  // on_token says stop at the third token
  sched.submit(request(p0, 40), r0.on_token(), r0.on_done());
  auto h1 = sched.submit(request(p1, 100000 / 100), r1.on_token(), r1.on_done());
  sched.submit(request(p2, 40), r2.on_token(), r2.on_done());
  r1.wait_tokens(5);
  h1->cancel();
  EXPECT_TRUE(h1->cancelled());
  r0.wait_done();
  r1.wait_done();
  r2.wait_done();

  EXPECT_EQ(r0.outcome.result.tokens, ref0.tokens);
  EXPECT_EQ(r0.outcome.result.finish, FinishReason::Length);

  const auto& out1 = r1.outcome;
  EXPECT_EQ(out1.result.finish, FinishReason::Stopped);
  EXPECT_TRUE(out1.error.empty());
  EXPECT_GE(out1.result.tokens.size(), 5u);
  EXPECT_LT(out1.result.tokens.size(), 1000u);
  EXPECT_EQ(out1.result.tokens, r1.tokens);
  // What it computed stays: the prompt and every token but the last, which is pending.
  EXPECT_EQ(out1.sequence->kv().size(), int64_t(out1.sequence->tokens().size()));
  EXPECT_EQ(out1.sequence->tokens().size(), p1.size() + out1.result.tokens.size() - 1);
  EXPECT_EQ(out1.sequence->pending(), std::vector<int32_t>{out1.result.tokens.back()});

  EXPECT_EQ(r2.outcome.result.finish, FinishReason::Stopped);
  ASSERT_EQ(r2.outcome.result.tokens.size(), 3u);
  EXPECT_EQ(r2.outcome.result.tokens, std::vector<int32_t>(ref2.tokens.begin(), ref2.tokens.begin() + 3));
}

// The daemon drops an evicted session's sequence right after a request on it ends: its pages are
// only freed if the scheduler kept no reference of its own past handing the outcome over.
TEST_F(SchedulerTest, OnDoneGetsTheOnlyReferenceToTheSequence) {
  Scheduler sched(*model_, small_options());
  Recorder fresh, continued;
  sched.submit(request(encode("Pages are freed"), 4), fresh.on_token(), fresh.on_done());
  fresh.wait_done();
  EXPECT_EQ(fresh.sequence_refs, 1);
  std::weak_ptr<Sequence> weak = fresh.outcome.sequence;
  GenerationRequest next = request({}, 4);
  next.sequence = std::move(fresh.outcome.sequence);
  sched.submit(std::move(next), continued.on_token(), continued.on_done());
  continued.wait_done();
  EXPECT_EQ(continued.sequence_refs, 1);
  continued.outcome.sequence.reset();
  EXPECT_TRUE(weak.expired());  // nothing else held it: its KV went with it
}

TEST_F(SchedulerTest, ContinuingASequenceEqualsOneUninterruptedRun) {
  const auto p = encode("The history of the city begins");
  const auto q = model_->tokenizer().encode(" And then", false, false);
  Scheduler sched(*model_, small_options());

  // Empty follow-up prompt: 10 + 10 tokens equal one run of 20.
  const auto ref20 = reference(p, 20);
  Recorder a, b;
  sched.submit(request(p, 10), a.on_token(), a.on_done());
  a.wait_done();
  auto seq = a.outcome.sequence;
  GenerationRequest next = request({}, 10);
  next.sequence = seq;
  sched.submit(std::move(next), b.on_token(), b.on_done());
  b.wait_done();
  std::vector<int32_t> both = a.outcome.result.tokens;
  both.insert(both.end(), b.outcome.result.tokens.begin(), b.outcome.result.tokens.end());
  EXPECT_EQ(both, ref20.tokens);
  EXPECT_EQ(b.outcome.sequence, seq);
  EXPECT_EQ(b.outcome.result.prompt_tokens, 0);

  // A follow-up prompt goes after the pending token: the same as feeding it in one cache.
  SequenceKvCache kv(geo(), 4096);
  const auto ref_a = reference(p, 10, greedy(), &kv);
  std::vector<int32_t> turn2 = {ref_a.tokens.back()};
  turn2.insert(turn2.end(), q.begin(), q.end());
  const auto ref_b = reference(turn2, 12, greedy(), &kv);
  Recorder c, d;
  sched.submit(request(p, 10), c.on_token(), c.on_done());
  c.wait_done();
  GenerationRequest follow = request(q, 12);
  follow.sequence = c.outcome.sequence;
  sched.submit(std::move(follow), d.on_token(), d.on_done());
  d.wait_done();
  EXPECT_EQ(c.outcome.result.tokens, ref_a.tokens);
  EXPECT_EQ(d.outcome.result.tokens, ref_b.tokens);
  EXPECT_EQ(d.outcome.sequence->kv().size(), kv.size());

  // A sequence restored without its pending token computes the last token again.
  auto restored = std::make_shared<Sequence>(std::make_unique<SequenceKvCache>(geo(), 4096));
  Recorder e, f;
  GenerationRequest first = request(p, 10);
  first.sequence = restored;
  sched.submit(std::move(first), e.on_token(), e.on_done());
  e.wait_done();
  auto copy_tokens = restored->tokens();
  copy_tokens.push_back(restored->pending().at(0));
  // Feed the pending token by hand into a fresh cache holding everything, then restore.
  auto kv2 = std::make_unique<SequenceKvCache>(geo(), 4096);
  {
    ThreadPool pool(1);
    Decoder dec(*model_, pool);
    std::vector<float> logits(dec.n_vocab());
    dec.forward(copy_tokens, *kv2, logits);
  }
  auto resumed = std::make_shared<Sequence>(std::move(kv2), copy_tokens);
  GenerationRequest again = request({}, 10);
  again.sequence = resumed;
  sched.submit(std::move(again), f.on_token(), f.on_done());
  f.wait_done();
  EXPECT_EQ(f.outcome.result.tokens, std::vector<int32_t>(ref20.tokens.begin() + 10, ref20.tokens.end()));
  EXPECT_THROW((void)std::make_shared<Sequence>(std::make_unique<SequenceKvCache>(geo(), 64), std::vector<int32_t>(3, 1)),
               Error);
}

TEST_F(SchedulerTest, StopStringsCutTheTextExactly) {
  const auto p = encode("Write a story about a dragon");
  const auto ref = reference(p, 40);
  ASSERT_GT(ref.text.size(), 30u);
  // A stop string from the middle of the text, and one that never occurs.
  const std::string stop = ref.text.substr(ref.text.size() / 2, 5);
  const std::string expect = ref.text.substr(0, ref.text.find(stop));

  Scheduler sched(*model_, small_options());
  Recorder r;
  GenerationRequest req = request(p, 40);
  req.stop = {"\x01never\x02", stop};
  sched.submit(std::move(req), r.on_token(), r.on_done());
  r.wait_done();
  EXPECT_EQ(r.outcome.result.text, expect);
  EXPECT_EQ(r.text, expect);  // nothing of the stop string was ever streamed
  EXPECT_EQ(r.outcome.result.finish, FinishReason::EndOfGeneration);
  EXPECT_EQ(finish_reason_name(r.outcome.result.finish), "stop");
  EXPECT_LT(r.outcome.result.tokens.size(), ref.tokens.size());
  EXPECT_EQ(r.outcome.result.tokens, std::vector<int32_t>(ref.tokens.begin(), ref.tokens.begin() + r.outcome.result.tokens.size()));

  // Held-back text that never became a stop string comes out at the end.
  Recorder r2;
  GenerationRequest req2 = request(p, 40);
  req2.stop = {ref.text.substr(ref.text.size() - 3) + "\x01"};
  sched.submit(std::move(req2), r2.on_token(), r2.on_done());
  r2.wait_done();
  EXPECT_EQ(r2.outcome.result.text, ref.text);
  EXPECT_EQ(r2.text, ref.text);
  EXPECT_EQ(r2.outcome.result.finish, FinishReason::Length);
}

TEST(StopMatcher, HoldsBackPossibleStartsAndCutsAcrossPieces) {
  StopMatcher m({"bcd", "", "xyz"});
  EXPECT_EQ(m.push("ab"), "a");  // "b" may start "bcd"
  EXPECT_EQ(m.held(), 1u);
  EXPECT_EQ(m.push("c"), "");
  EXPECT_EQ(m.push("e"), "bce");
  EXPECT_EQ(m.push("x"), "");
  EXPECT_EQ(m.push("xy"), "x");  // "xxy": the first x cannot start a match any more
  EXPECT_EQ(m.flush(), "xy");

  StopMatcher n({"bcd", "cd!"});
  EXPECT_EQ(n.push("abc"), "a");
  EXPECT_EQ(n.push("d!tail"), "");  // earliest occurrence wins: "bcd" at 1
  EXPECT_TRUE(n.stopped());
  EXPECT_EQ(n.push("more"), "");
  EXPECT_EQ(n.flush(), "");

  StopMatcher none;
  EXPECT_EQ(none.push("abc"), "abc");
  StopMatcher same({"aa"});
  EXPECT_EQ(same.push("a"), "");
  EXPECT_EQ(same.push("ba"), "ab");
  EXPECT_EQ(same.push("a"), "");
  EXPECT_TRUE(same.stopped());
}

TEST_F(SchedulerTest, FullQueueAndBadRequestsAreRefused) {
  SchedulerOptions o = small_options();
  o.max_sequences = 1;
  o.max_queue = 1;
  o.context = 64;
  Scheduler sched(*model_, o);
  const auto p = encode("Queue test");

  Gate gate;
  Recorder a, b;
  auto a_cb = a.on_token();
  auto a_seq = sched.new_sequence();
  GenerationRequest ra = request(p, 20);
  ra.sequence = a_seq;
  sched.submit(std::move(ra),
               [&](const TokenEvent& e) {
                 if (e.token >= 0 && a.n_tokens() == 1) gate.wait_here();  // holds the scheduler
                 return a_cb(e);
               },
               a.on_done());
  sched.submit(request(p, 5), b.on_token(), b.on_done());  // waits in the queue
  try {
    sched.submit(request(p, 5), {}, {});
    ADD_FAILURE() << "a full queue accepted a request";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::OutOfMemory);
    EXPECT_NE(std::string(e.what()).find("queue is full"), std::string::npos) << e.what();
  }
  gate.wait_reached();
  // A busy sequence is refused, and left busy for its request.
  GenerationRequest again = request(p, 5);
  again.sequence = a_seq;
  try {
    sched.submit(std::move(again), {}, {});
    ADD_FAILURE() << "a busy sequence accepted a second request";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
  }
  EXPECT_TRUE(a_seq->busy());
  const SchedulerStats busy = sched.stats();
  EXPECT_EQ(busy.running, 1);
  EXPECT_EQ(busy.queued, 1);
  EXPECT_GT(busy.kv_bytes, 0u);

  gate.release();
  a.wait_done();
  b.wait_done();
  EXPECT_EQ(a.outcome.result.tokens.size(), 20u);
  EXPECT_EQ(b.outcome.result.tokens.size(), 5u);
  EXPECT_FALSE(a_seq->busy());

  // Bad requests fail at submit (the queue is empty again, so the error is theirs).
  auto kind_of = [&](GenerationRequest r) {
    try {
      sched.submit(std::move(r), {}, {});
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::Internal;
  };
  GenerationRequest bad_sampling = request(p, 5);
  bad_sampling.sampling.top_p = 2;
  EXPECT_EQ(kind_of(bad_sampling), ErrorKind::InvalidArgument);
  EXPECT_EQ(kind_of(request({}, 5)), ErrorKind::InvalidArgument);               // empty prompt, fresh sequence
  EXPECT_EQ(kind_of(request({1, 99999}, 5)), ErrorKind::InvalidArgument);       // outside the vocabulary
  EXPECT_EQ(kind_of(request(std::vector<int32_t>(65, 5), 5)), ErrorKind::OutOfMemory);  // > context
  EXPECT_EQ(kind_of(request(p, -1)), ErrorKind::InvalidArgument);

  EXPECT_EQ(sched.stats().queued, 0);
  EXPECT_THROW({ Scheduler s(*model_, SchedulerOptions{.max_sequences = 0}); }, Error);
  EXPECT_THROW({ Scheduler s(*model_, SchedulerOptions{.max_batch_tokens = Decoder::kMaxBatch + 1}); }, Error);
}

TEST_F(SchedulerTest, ContextFullEndsTheRequest) {
  SchedulerOptions o = small_options();
  o.context = 32;
  Scheduler sched(*model_, o);
  const auto p = encode("Twenty tokens or so of prompt text to fill the context");
  ASSERT_LT(p.size(), 32u);
  Recorder r;
  sched.submit(request(p, 100), r.on_token(), r.on_done());
  r.wait_done();
  EXPECT_EQ(r.outcome.result.finish, FinishReason::ContextFull);
  // Every position filled, and one more token sampled from the last.
  EXPECT_EQ(r.outcome.sequence->kv().size(), 32);
  EXPECT_EQ(r.outcome.result.tokens.size(), 32 - p.size() + 1);
  EXPECT_EQ(r.outcome.sequence->pending().size(), 1u);
  // Nothing more fits: continuing is refused at submit.
  GenerationRequest more = request({}, 5);
  more.sequence = r.outcome.sequence;
  EXPECT_THROW(sched.submit(std::move(more), {}, {}), Error);
}

TEST_F(SchedulerTest, AFailingStepFailsOnlyItsRequest) {
  const auto p = encode("Failure isolation");
  const auto ref = reference(p, 30);
  Scheduler sched(*model_, small_options());
  auto bad = std::make_shared<Sequence>(std::make_unique<FailingKvCache>(geo(), 4096, int64_t(p.size()) + 5));
  Recorder ok, failing, throwing;
  GenerationRequest rb = request(p, 30);
  rb.sequence = bad;
  sched.submit(request(p, 30), ok.on_token(), ok.on_done());
  sched.submit(std::move(rb), failing.on_token(), failing.on_done());
  sched.submit(request(p, 30), [](const TokenEvent&) -> bool { throw std::runtime_error("client gone"); },
               throwing.on_done());
  ok.wait_done();
  failing.wait_done();
  throwing.wait_done();

  EXPECT_TRUE(ok.outcome.error.empty());
  EXPECT_EQ(ok.outcome.result.tokens, ref.tokens);
  EXPECT_NE(failing.outcome.error.find("injected KV failure"), std::string::npos) << failing.outcome.error;
  // The failed request keeps what was computed before the failure, and nothing pending.
  EXPECT_EQ(bad->kv().size(), int64_t(bad->tokens().size()));
  EXPECT_EQ(bad->tokens().size(), p.size() + 5);
  EXPECT_TRUE(bad->pending().empty());
  EXPECT_FALSE(bad->busy());
  EXPECT_NE(throwing.outcome.error.find("client gone"), std::string::npos);
  EXPECT_EQ(throwing.outcome.result.tokens.size(), 1u);
}

TEST_F(SchedulerTest, SequencesDrawFromASharedPoolWithinItsBudget) {
  // Pages of 16 tokens; a budget of 4 pages. A 20-token request fits in 2 pages; a long one
  // needs more than what is left and fails alone.
  const uint64_t page_bytes = KvPagePool::create(geo(), KvType::F16, 16)->page_bytes();
  auto pool = KvPagePool::create(geo(), KvType::F16, 16, 4 * page_bytes);
  ASSERT_EQ(pool->budget_bytes(), 4 * pool->page_bytes());
  SchedulerOptions o = small_options();
  o.kv_pool = pool;
  Scheduler sched(*model_, o);
  const auto p = encode("Pool test");
  const auto ref = reference(p, 20);
  Recorder small, big;
  sched.submit(request(p, 20), small.on_token(), small.on_done());
  small.wait_done();
  EXPECT_EQ(small.outcome.result.tokens, ref.tokens);
  EXPECT_EQ(pool->pages_in_use(), 2u);  // held by the finished sequence, kept in the outcome
  sched.submit(request(p, 200), big.on_token(), big.on_done());
  big.wait_done();
  EXPECT_FALSE(big.outcome.error.empty());
  EXPECT_EQ(big.outcome.sequence->kv().size(), 32);  // the two pages it could get
  EXPECT_EQ(big.outcome.sequence->tokens().size(), 32u);

  SchedulerOptions wrong = small_options();
  wrong.kv_pool = KvPagePool::create({1, 1, 64}, KvType::F16);
  EXPECT_THROW({ Scheduler s(*model_, wrong); }, Error);
}

TEST_F(SchedulerTest, DestructorEndsEveryRequestWithItsCallback) {
  std::vector<Recorder> rec(4);
  std::vector<std::shared_ptr<Sequence>> seqs;
  {
    SchedulerOptions o = small_options();
    o.max_sequences = 2;
    Scheduler sched(*model_, o);
    for (auto& r : rec) {
      auto req = request(encode("Shutdown test"), 3000);
      seqs.push_back(sched.new_sequence());
      req.sequence = seqs.back();
      sched.submit(std::move(req), r.on_token(), r.on_done());
    }
    rec[0].wait_tokens(2);
  }
  for (size_t i = 0; i < rec.size(); ++i) {
    std::lock_guard lock(rec[i].mu);
    EXPECT_TRUE(rec[i].done) << i;
    EXPECT_EQ(rec[i].outcome.result.finish, FinishReason::Stopped) << i;
    EXPECT_FALSE(seqs[i]->busy()) << i;
    EXPECT_EQ(seqs[i]->kv().size(), int64_t(seqs[i]->tokens().size()));
  }
  // The queued ones never ran: their prompt is pending in the sequence.
  std::lock_guard lock(rec[3].mu);
  EXPECT_TRUE(rec[3].outcome.result.tokens.empty());
  EXPECT_TRUE(seqs[3]->tokens().empty());
  EXPECT_EQ(seqs[3]->pending(), encode("Shutdown test"));
}

TEST_F(SchedulerTest, StatsCountRequestsAndTokens) {
  Scheduler sched(*model_, small_options());
  std::vector<Recorder> rec(3);
  const int64_t n[] = {5, 7, 9};
  for (int i = 0; i < 3; ++i) sched.submit(request(encode("Stats " + std::to_string(i)), n[i]), rec[i].on_token(), rec[i].on_done());
  for (auto& r : rec) r.wait_done();
  // No waiting for the end of the step: a request leaves the counters before its on_done runs.
  const SchedulerStats s = sched.stats();
  EXPECT_EQ(s.completed, 3);
  EXPECT_EQ(s.tokens_generated, 5 + 7 + 9);
  EXPECT_EQ(s.queued, 0);
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.kv_bytes, 0u);
}

// Whoever hears of a request's end (the daemon answers its client from on_done, and the client
// may ask /status next) must find it gone from the memory counters: its KV no longer counted as
// the batch's, its logits no longer scratch.
TEST_F(SchedulerTest, ARequestLeavesTheMemoryCountersBeforeItsOnDoneRuns) {
  Scheduler sched(*model_, small_options());
  Recorder first, second;
  SchedulerStats at_first_done, at_second_done;
  auto on_done = [&sched](Recorder& r, SchedulerStats& at_done) {
    return [&sched, &at_done, done = r.on_done()](GenerationOutcome o) {
      at_done = sched.stats();
      done(std::move(o));
    };
  };
  sched.submit(request(encode("Counters"), 6), first.on_token(), on_done(first, at_first_done));
  first.wait_done();
  EXPECT_EQ(at_first_done.running, 0);
  EXPECT_EQ(at_first_done.kv_bytes, 0u) << "the finished request's KV was still counted as the batch's";
  // The same request again: the first one's step is over once the second has run, and the
  // decoder's buffers are those of the same shapes, so the two readings must agree.
  sched.submit(request(encode("Counters"), 6), second.on_token(), on_done(second, at_second_done));
  second.wait_done();
  EXPECT_EQ(at_second_done.kv_bytes, 0u);
  EXPECT_GT(at_first_done.scratch_bytes, 0u);
  EXPECT_EQ(at_first_done.scratch_bytes, sched.stats().scratch_bytes) << "the finished request's logits were counted";
  EXPECT_EQ(at_second_done.scratch_bytes, sched.stats().scratch_bytes);
}

}  // namespace
}  // namespace strata
