// strata inspect MODEL [--json]: what a GGUF file holds, read from its header alone (no plugin
// or weights are needed, so it also describes models this build cannot run).
#include <cstdio>
#include <map>
#include <string>

#include "engine/gguf/gguf_file.h"
#include "sdk/cli/commands.h"
#include "sdk/cli/json_out.h"
#include "sdk/cli/offline_model.h"

namespace strata::cli {
namespace {

struct InspectOptions {
  std::string model;
  bool json = false;
};

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof(buf), u ? "%.2f %s" : "%.0f %s", v, units[u]);
  return buf;
}

void run_inspect(const InspectOptions& o) {
  auto file = open_model_file([&] { return gguf::GgufFile::open(o.model); });
  const std::string arch = file.get_string("general.architecture", "");
  const auto key = [&](const char* suffix) { return arch + "." + suffix; };

  uint64_t params = 0, bytes = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;  // type -> (tensors, bytes)
  for (const auto& t : file.tensors()) {
    params += static_cast<uint64_t>(t.n_elements());
    bytes += t.bytes;
    auto& e = by_type[std::string(tensor_type_name(t.type))];
    e.first += 1;
    e.second += t.bytes;
  }
  const gguf::Value* tokens = file.find("tokenizer.ggml.tokens");
  const uint64_t vocab = tokens && tokens->is_array() ? tokens->size() : 0;
  const std::string tokenizer = file.get_string("tokenizer.ggml.model", "");
  const std::string pre = file.get_string("tokenizer.ggml.pre", "");
  const bool has_template = file.has("tokenizer.chat_template");
  const uint64_t ctx = arch.empty() ? 0 : file.get_u64(key("context_length"), 0);

  if (o.json) {
    boost::json::object j;
    j["file"] = file.path();
    j["gguf_version"] = file.version();
    j["architecture"] = arch;
    j["name"] = file.get_string("general.name", "");
    j["parameters"] = params;
    j["tensor_bytes"] = bytes;
    j["file_bytes"] = file.file_size();
    j["tensors"] = file.tensors().size();
    boost::json::array types;
    for (const auto& [name, e] : by_type) types.push_back({{"type", name}, {"tensors", e.first}, {"bytes", e.second}});
    j["tensor_types"] = std::move(types);
    j["context_length"] = ctx;
    if (!arch.empty()) {
      j["n_layer"] = file.get_u64(key("block_count"), 0);
      j["n_embd"] = file.get_u64(key("embedding_length"), 0);
      j["n_head"] = file.get_u64(key("attention.head_count"), 0);
      j["n_head_kv"] = file.get_u64(key("attention.head_count_kv"), file.get_u64(key("attention.head_count"), 0));
      j["n_ff"] = file.get_u64(key("feed_forward_length"), 0);
    }
    j["vocab_size"] = vocab;
    j["tokenizer"] = tokenizer;
    j["tokenizer_pre"] = pre;
    j["chat_template"] = has_template;
    print_json(j);
    return;
  }
  std::printf("file:           %s (GGUF v%u, %s)\n", file.path().c_str(), file.version(), human_bytes(file.file_size()).c_str());
  std::printf("architecture:   %s\n", arch.empty() ? "(none)" : arch.c_str());
  if (file.has("general.name")) std::printf("name:           %s\n", file.get_string("general.name").c_str());
  std::printf("parameters:     %llu (%.2f B)\n", static_cast<unsigned long long>(params), params / 1e9);
  if (!arch.empty()) {
    std::printf("layers:         %llu\n", static_cast<unsigned long long>(file.get_u64(key("block_count"), 0)));
    std::printf("embedding:      %llu\n", static_cast<unsigned long long>(file.get_u64(key("embedding_length"), 0)));
    const uint64_t heads = file.get_u64(key("attention.head_count"), 0);
    std::printf("heads:          %llu (kv %llu)\n", static_cast<unsigned long long>(heads),
                static_cast<unsigned long long>(file.get_u64(key("attention.head_count_kv"), heads)));
    std::printf("feed-forward:   %llu\n", static_cast<unsigned long long>(file.get_u64(key("feed_forward_length"), 0)));
  }
  std::printf("context length: %llu\n", static_cast<unsigned long long>(ctx));
  std::printf("vocabulary:     %llu tokens (%s%s%s)\n", static_cast<unsigned long long>(vocab),
              tokenizer.empty() ? "no tokenizer" : tokenizer.c_str(), pre.empty() ? "" : ", pre ", pre.c_str());
  std::printf("chat template:  %s\n", has_template ? "present" : "absent");
  std::printf("tensors:        %zu, %s\n", file.tensors().size(), human_bytes(bytes).c_str());
  for (const auto& [name, e] : by_type)
    std::printf("  %-6s %5llu tensors  %s\n", name.c_str(), static_cast<unsigned long long>(e.first),
                human_bytes(e.second).c_str());
}

}  // namespace

void add_inspect(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  auto* sub = app.add_subcommand("inspect", "Describe a GGUF model file");
  sub->add_option("model", o->model, "GGUF file")->required();
  sub->add_flag("--json", o->json, "Print JSON");
  sub->callback([o] { run_inspect(*o); });
}

}  // namespace strata::cli
