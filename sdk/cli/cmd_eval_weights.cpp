// strata eval-weights --model MODEL --text FILE [--weights q4g] [--ctx N] [--json]
// The quality cost of compressing weights at load (q4g): the text is fed through the model as
// stored and as compressed (teacher forcing), and each position's next-token distributions are
// compared: mean KL(uncompressed || compressed) and greedy-token agreement, as eval-kv does
// for the KV cache.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "engine/threads/thread_pool.h"
#include "engine/weights/weight_quality.h"
#include "sdk/cli/commands.h"
#include "sdk/cli/json_out.h"
#include "sdk/cli/offline_model.h"
#include "sdk/cli/weight_flags.h"

namespace strata::cli {
namespace {

struct EvalWeightsOptions {
  std::string model, text;
  int64_t ctx = 512;
  int threads = 0;
  bool json = false;
  WeightFlags weights;
};

void run_eval_weights(EvalWeightsOptions o) {
  std::ifstream in(o.text, std::ios::binary);
  if (!in) throw Error(ErrorKind::InvalidArgument, "--text: cannot read " + o.text);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (o.weights.weights == "native") o.weights.weights = "q4g";  // the point of the command
  const int threads = resolve_threads(o.threads);
  auto ref = load_offline_model(o.model);
  auto cmp = load_offline_model(o.model, to_weight_options(o.weights, threads));
  auto tokens = ref.model->tokenizer().encode(text, true, false);
  if (static_cast<int64_t>(tokens.size()) > o.ctx) tokens.resize(o.ctx);
  ThreadPool pool(threads);
  const WeightQuality q = compare_weights(*ref.model, *cmp.model, tokens, pool);
  const auto ws = cmp.model->weight_store().stats();
  if (o.json) {
    print_json(boost::json::object{{"model", ref.model->name()},
                                   {"weights", o.weights.weights},
                                   {"positions", q.positions},
                                   {"mean_kl", q.mean_kl},
                                   {"greedy_agreement", q.greedy_agreement},
                                   {"weight_bytes", ws.ram_bytes + ws.ssd_bytes}});
    return;
  }
  std::printf("%lld positions of %s; weights %s (%.1f MiB held) against the file's own types\n",
              static_cast<long long>(q.positions), o.text.c_str(), o.weights.weights.c_str(),
              (ws.ram_bytes + ws.ssd_bytes) / (1024.0 * 1024.0));
  std::printf("mean KL %.6f, greedy agreement %.2f%%\n", q.mean_kl, 100.0 * q.greedy_agreement);
}

}  // namespace

void add_eval_weights(CLI::App& app) {
  auto o = std::make_shared<EvalWeightsOptions>();
  auto* sub = app.add_subcommand("eval-weights", "Quality of compressed weights (q4g): KL divergence and greedy agreement");
  sub->add_option("-m,--model", o->model, "GGUF model file")->required();
  sub->add_option("--text", o->text, "Text file to feed through the model")->required();
  sub->add_option("--ctx", o->ctx, "Tokens of the text to use at most")->capture_default_str();
  sub->add_option("-t,--threads", o->threads, "Threads (default: every core)");
  sub->add_flag("--json", o->json, "Print JSON");
  add_weight_flags(sub, o->weights);
  sub->callback([o] { run_eval_weights(*o); });
}

}  // namespace strata::cli
