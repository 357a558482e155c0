// strata model synth: write a random-weight GGUF model of a given shape (tests, benchmarks).
#include <cstdio>
#include <string>

#include "engine/core/error.h"
#include "engine/model/synth.h"
#include "sdk/cli/commands.h"

namespace strata::cli {
namespace {

struct SynthOptions {
  SynthSpec spec;
  std::string type = "q8_0", output_type;
  std::string out;
};

TensorType parse_type(const std::string& name, const char* option) {
  auto t = parse_tensor_type(name);
  if (!t) throw Error(ErrorKind::InvalidArgument, std::string(option) + ": unknown tensor type '" + name + "'");
  return *t;
}

void run_synth(SynthOptions o) {
  o.spec.type = parse_type(o.type, "--type");
  if (!o.output_type.empty()) o.spec.output_type = parse_type(o.output_type, "--output-type");
  const uint64_t bytes = synthesize_model(o.spec, o.out);
  std::fprintf(stderr, "wrote %s (%.1f MiB)\n", o.out.c_str(), bytes / 1048576.0);
}

}  // namespace

void add_model(CLI::App& app) {
  auto* model = app.add_subcommand("model", "Model files");
  model->require_subcommand(1);
  auto o = std::make_shared<SynthOptions>();
  auto* sub = model->add_subcommand("synth", "Write a GGUF model with random weights of a given shape");
  sub->add_option("--arch", o->spec.arch, "Architecture")->capture_default_str();
  sub->add_option("--dim", o->spec.dim, "Embedding width")->capture_default_str();
  sub->add_option("--layers", o->spec.layers, "Transformer blocks")->capture_default_str();
  sub->add_option("--heads", o->spec.heads, "Attention heads")->capture_default_str();
  sub->add_option("--kv-heads", o->spec.kv_heads, "Key/value heads")->capture_default_str();
  sub->add_option("--ffn", o->spec.ffn, "Feed-forward width")->capture_default_str();
  sub->add_option("--ctx", o->spec.context, "Training context length written to the file")->capture_default_str();
  sub->add_option("--rope-base", o->spec.rope_base, "RoPE frequency base")->capture_default_str();
  sub->add_option("--vocab-from", o->spec.vocab_from, "GGUF whose tokenizer is copied")->required();
  sub->add_option("--type", o->type, "Tensor type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k")->capture_default_str();
  sub->add_option("--output-type", o->output_type, "Type of output.weight (default: q6_k for 4/5-bit types)");
  sub->add_flag("--tied", o->spec.tied_embeddings, "No output.weight: reuse the embedding matrix");
  sub->add_option("--seed", o->spec.seed, "Random seed")->capture_default_str();
  sub->add_option("-t,--threads", o->spec.threads, "Threads (default: every core)");
  sub->add_option("-o,--out", o->out, "Output file")->required();
  sub->callback([o] { run_synth(*o); });
}

}  // namespace strata::cli
