// strata eval-kv --model MODEL --text FILE [--ctx N] [--threads N] [--json]
// The quality cost of quantized KV: the text is fed through the model once per KV type
// (teacher forcing), and each position's next-token distribution under q8_0 and q4g is compared
// with f16's: mean KL divergence KL(f16 || quantized) and greedy-token agreement.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/decode/decoder.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/sampler/distribution_distance.h"
#include "engine/threads/thread_pool.h"
#include "sdk/cli/commands.h"
#include "sdk/cli/json_out.h"
#include "sdk/cli/offline_model.h"

namespace strata::cli {
namespace {

struct EvalKvOptions {
  std::string model, text;
  int64_t ctx = 4096;
  int threads = 0;
  bool json = false;
};

struct Score {
  KvType type = KvType::F16;
  DistributionDistance distance{};
};

void run_eval_kv(const EvalKvOptions& o) {
  std::ifstream in(o.text, std::ios::binary);
  if (!in) throw Error(ErrorKind::InvalidArgument, "--text: cannot read " + o.text);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto m = load_offline_model(o.model);
  const Model& model = *m.model;
  const auto& d = model.desc();
  auto tokens = model.tokenizer().encode(text, true, false);
  if (static_cast<int64_t>(tokens.size()) > o.ctx) tokens.resize(o.ctx);
  if (tokens.size() < 2) throw Error(ErrorKind::InvalidArgument, "--text: fewer than 2 tokens");

  ThreadPool pool(resolve_threads(o.threads));
  Decoder decoder(model, pool);
  const KvGeometry geo{int(d.n_layer), int(d.n_head_kv), int(d.head_dim)};
  const int64_t V = d.n_vocab, n = static_cast<int64_t>(tokens.size());
  SequenceKvCache ref(geo, n);
  std::vector<Score> scores;
  std::vector<std::unique_ptr<SequenceKvCache>> caches;
  for (KvType t : {KvType::Q8_0, KvType::Q4G}) {
    caches.push_back(std::make_unique<SequenceKvCache>(geo, n, SequenceKvCache::kDefaultPageTokens, t));
    scores.push_back({t});
  }
  // Chunks keep the logits of a few dozen positions in memory, not of the whole text.
  constexpr int64_t kChunk = 64;
  std::vector<float> ref_logits(kChunk * V), q_logits(kChunk * V);
  for (int64_t begin = 0; begin + 1 < n; begin += kChunk) {
    const int64_t len = std::min(kChunk, n - 1 - begin);  // the last token has no next token to predict
    std::span<const int32_t> chunk(tokens.data() + begin, len);
    decoder.forward(chunk, ref, ref_logits, true);
    for (size_t c = 0; c < caches.size(); ++c) {
      decoder.forward(chunk, *caches[c], q_logits, true);
      for (int64_t t = 0; t < len; ++t)
        scores[c].distance.add({&ref_logits[t * V], size_t(V)}, {&q_logits[t * V], size_t(V)});
    }
  }
  if (o.json) {
    boost::json::array a;
    for (const auto& s : scores)
      a.push_back({{"kv", std::string(kv_type_name(s.type))},
                   {"mean_kl", s.distance.mean_kl()},
                   {"greedy_agreement", s.distance.greedy_agreement()},
                   {"positions", s.distance.positions()}});
    print_json(boost::json::object{{"model", model.name()}, {"tokens", n}, {"reference", "f16"}, {"results", std::move(a)}});
    return;
  }
  std::printf("%lld tokens of %s, against f16 KV\n", static_cast<long long>(n), o.text.c_str());
  std::printf("%-5s %14s %18s\n", "kv", "mean KL", "greedy agreement");
  for (const auto& s : scores)
    std::printf("%-5s %14.6f %17.2f%%\n", std::string(kv_type_name(s.type)).c_str(), s.distance.mean_kl(),
                100.0 * s.distance.greedy_agreement());
}

}  // namespace

void add_eval_kv(CLI::App& app) {
  auto o = std::make_shared<EvalKvOptions>();
  auto* sub = app.add_subcommand("eval-kv", "Quality of quantized KV against f16: KL divergence and greedy agreement");
  sub->add_option("-m,--model", o->model, "GGUF model file")->required();
  sub->add_option("--text", o->text, "Text file to feed through the model")->required();
  sub->add_option("--ctx", o->ctx, "Tokens of the text to use at most")->capture_default_str();
  sub->add_option("-t,--threads", o->threads, "Threads (default: every core)");
  sub->add_flag("--json", o->json, "Print JSON");
  sub->callback([o] { run_eval_kv(*o); });
}

}  // namespace strata::cli
