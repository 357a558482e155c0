// strata generate --model MODEL [--prompt TEXT] [--max-tokens N] [--temp T] [--seed S] ...
// Streams the continuation of a prompt (from --prompt or stdin) to stdout.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "engine/decode/decoder.h"
#include "engine/decode/generation.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/sampler/sampler.h"
#include "engine/threads/thread_pool.h"
#include "sdk/cli/commands.h"
#include "sdk/cli/json_out.h"
#include "sdk/cli/offline_model.h"
#include "sdk/cli/weight_flags.h"
#include "engine/weights/weight_stats_json.h"

namespace strata::cli {

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

namespace {

struct GenerateOptions {
  std::string model;
  std::string prompt;
  bool has_prompt = false;
  int64_t max_tokens = 128;
  int64_t ctx = 0;
  int64_t fill = 0;
  std::string kv = "f16";
  int threads = 0;
  SamplerParams sampling;
  bool json = false, no_bos = false, no_special = false, ignore_eos = false, verbose = false;
  WeightFlags weights;
};

// Stores `n` positions of zero K/V without computing them: the cache then holds (and has
// allocated) what a filled context holds, so memory at a long context can be measured without
// a prefill that takes many minutes on a small machine. The generated text is meaningless.
void fill_context(KvCache& kv, int64_t n) {
  const KvGeometry& g = kv.geometry();
  constexpr int64_t kChunk = 256;
  const std::vector<float> zeros(static_cast<size_t>(kChunk * g.n_head_kv * g.head_dim), 0.0f);
  kv.reserve(n);
  for (int layer = 0; layer < g.n_layer; ++layer)
    for (int64_t pos = 0; pos < n; pos += kChunk)
      kv.write(layer, pos, std::min(kChunk, n - pos), zeros.data(), zeros.data());
  kv.commit(n);
}

// The process's peak resident set (bytes), as the kernel counts it.
uint64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;
}

void run_generate(GenerateOptions o) {
  if (o.max_tokens < 0) throw Error(ErrorKind::InvalidArgument, "--max-tokens must be >= 0");
  if (!o.has_prompt) o.prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  auto m = load_offline_model(o.model, to_weight_options(o.weights, resolve_threads(o.threads)));
  const Model& model = *m.model;
  const auto& d = model.desc();
  const int64_t ctx = o.ctx > 0 ? o.ctx : d.n_ctx_train;

  ThreadPool pool(resolve_threads(o.threads));
  Decoder decoder(model, pool);
  const auto kv_type = parse_kv_type(o.kv);
  if (!kv_type) throw Error(ErrorKind::InvalidArgument, "--kv: unknown KV type '" + o.kv + "' (f16, q8_0, q4g)");
  SequenceKvCache kv({int(d.n_layer), int(d.n_head_kv), int(d.head_dim)}, ctx, SequenceKvCache::kDefaultPageTokens, *kv_type);
  Sampler sampler(o.sampling);
  const auto prompt = model.tokenizer().encode(o.prompt, !o.no_bos, !o.no_special);
  if (prompt.empty()) throw Error(ErrorKind::InvalidArgument, "the prompt is empty and the model adds no BOS token");
  if (o.fill < 0) throw Error(ErrorKind::InvalidArgument, "--fill must be >= 0");
  if (o.fill + static_cast<int64_t>(prompt.size()) > ctx)
    throw Error(ErrorKind::InvalidArgument, "the prompt has " + std::to_string(prompt.size()) + " tokens" +
                                                (o.fill ? " after " + std::to_string(o.fill) + " filled positions" : "") +
                                                ", more than the context of " + std::to_string(ctx));
  if (o.fill > 0) fill_context(kv, o.fill);

  GenerationOptions go;
  go.max_tokens = o.max_tokens;
  go.stop_at_end_of_generation = !o.ignore_eos;
  TokenCallback stream;
  if (!o.json)
    stream = [](int32_t, std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  GenerationResult r = o.max_tokens == 0 ? GenerationResult{} : generate(decoder, kv, sampler, model.tokenizer(), prompt, go, stream);

  const double prefill_tps = r.prefill_seconds > 0 ? prompt.size() / r.prefill_seconds : 0;
  const double decode_tps = r.decode_seconds > 0 && r.tokens.size() > 1 ? (r.tokens.size() - 1) / r.decode_seconds : 0;
  if (o.json) {
    boost::json::array pt, gt;
    for (int32_t t : prompt) pt.push_back(t);
    for (int32_t t : r.tokens) gt.push_back(t);
    print_json(boost::json::object{
        {"prompt_tokens", std::move(pt)},
        {"tokens", std::move(gt)},
        {"text", r.text},
        {"finish_reason", std::string(finish_reason_name(r.finish))},
        {"timings",
         {{"prompt_ms", r.prefill_seconds * 1e3},
          {"prompt_tokens_per_s", prefill_tps},
          {"generation_ms", r.decode_seconds * 1e3},
          {"generation_tokens_per_s", decode_tps}}},
        {"memory", {{"weights_bytes", model.weight_store().resident_bytes()},
                    {"kv_bytes", kv.allocated_bytes()},
                    {"scratch_bytes", decoder.scratch_bytes()},
                    {"peak_rss_bytes", peak_rss_bytes()}}},
        {"weights", weight_stats_json(model.weight_store().stats())}});
  } else {
    std::printf("\n");
  }
  if (o.verbose) {
    std::fprintf(stderr, "prompt: %zu tokens in %.1f ms (%.2f tok/s); generated %zu tokens (%.2f tok/s), %s\n",
                 prompt.size(), r.prefill_seconds * 1e3, prefill_tps, r.tokens.size(), decode_tps,
                 std::string(finish_reason_name(r.finish)).c_str());
    std::fprintf(stderr, "memory: weights %llu B, kv %llu B (%lld of %lld tokens), scratch %llu B, peak RSS %llu B\n",
                 static_cast<unsigned long long>(model.weight_store().resident_bytes()),
                 static_cast<unsigned long long>(kv.allocated_bytes()), static_cast<long long>(kv.size()),
                 static_cast<long long>(ctx), static_cast<unsigned long long>(decoder.scratch_bytes()),
                 static_cast<unsigned long long>(peak_rss_bytes()));
    print_weight_stats(model.weight_store().stats());
  }
}

}  // namespace

void add_generate(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  auto* sub = app.add_subcommand("generate", "Continue a prompt (from --prompt or stdin) and stream the text");
  sub->add_option("-m,--model", o->model, "GGUF model file")->required();
  sub->add_option("-p,--prompt", o->prompt, "Prompt text (default: read stdin)");
  sub->add_option("-n,--max-tokens", o->max_tokens, "Tokens to generate at most")->capture_default_str();
  sub->add_option("--temp", o->sampling.temperature, "Temperature; 0 is greedy")->capture_default_str();
  sub->add_option("--seed", o->sampling.seed, "Random seed")->capture_default_str();
  sub->add_option("--top-k", o->sampling.top_k, "Top-k (0 disables)")->capture_default_str();
  sub->add_option("--top-p", o->sampling.top_p, "Top-p (1 disables)")->capture_default_str();
  sub->add_option("--min-p", o->sampling.min_p, "Min-p (0 disables)")->capture_default_str();
  sub->add_option("--repeat-penalty", o->sampling.repeat_penalty, "Repetition penalty (1 disables)")->capture_default_str();
  sub->add_option("--frequency-penalty", o->sampling.frequency_penalty, "Frequency penalty")->capture_default_str();
  sub->add_option("--presence-penalty", o->sampling.presence_penalty, "Presence penalty")->capture_default_str();
  sub->add_option("--ctx", o->ctx, "Context length (default: the model's training context)");
  sub->add_option("--fill", o->fill,
                  "Store N positions of zero K/V before the prompt without computing them, to measure memory at a "
                  "filled context (the output is then meaningless)");
  sub->add_option("--kv", o->kv, "KV cache storage: f16, q8_0, q4g")->capture_default_str();
  sub->add_option("-t,--threads", o->threads, "Threads (default: every core)");
  sub->add_flag("--json", o->json, "Print one JSON document at the end instead of streaming");
  sub->add_flag("--no-bos", o->no_bos, "Do not add BOS to the prompt");
  sub->add_flag("--no-special", o->no_special, "Treat special-token text in the prompt as plain text");
  sub->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-generation tokens");
  sub->add_flag("-v,--verbose", o->verbose, "Print timings and memory use to stderr");
  add_weight_flags(sub, o->weights);
  sub->callback([o, sub] {
    GenerateOptions copy = *o;
    copy.has_prompt = sub->count("--prompt") > 0;
    run_generate(std::move(copy));
  });
}

}  // namespace strata::cli
