#include "tests/tokenizer/tokenizer_test_support.h"

#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "engine/gguf/gguf_file.h"
#include "tests/support/test_paths.h"

namespace strata::test {
namespace {

// The registry is declared before the tokenizers so that it is destroyed after them: a
// tokenizer's code lives in a plugin the registry holds open.
struct Cache {
  PluginRegistry registry = PluginRegistry::load_default();
  std::mutex mu;
  std::map<std::string, std::unique_ptr<Tokenizer>> tokenizers;
};

Cache& cache() {
  static Cache c;
  return c;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

const PluginRegistry& plugins() { return cache().registry; }

std::filesystem::path vocab_path(const std::string& name) {
  return shared_path("models/vocab/ggml-vocab-" + name + ".gguf");
}

const Tokenizer& vocab_tokenizer(const std::string& name) {
  Cache& c = cache();
  std::lock_guard lock(c.mu);
  auto& slot = c.tokenizers[name];
  if (!slot) {
    const auto file = gguf::GgufFile::open(vocab_path(name));
    slot = std::make_unique<Tokenizer>(Tokenizer::create(c.registry, file));
  }
  return *slot;
}

std::vector<std::string> vocab_inputs(const std::string& name) {
  const std::string raw = read_file(vocab_path(name).string() + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      out.push_back(raw.substr(pos));
      break;
    }
    out.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  return out;
}

std::optional<std::vector<std::vector<int32_t>>> vocab_outputs(const std::string& name) {
  const auto path = vocab_path(name).string() + ".out";
  if (!std::filesystem::exists(path)) return std::nullopt;
  std::istringstream in(read_file(path));
  std::vector<std::vector<int32_t>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    for (int32_t id; ls >> id;) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

gguf::GgufWriter writer_from_vocab(const std::string& name) {
  const auto file = gguf::GgufFile::open(vocab_path(name));
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  for (const auto& [key, value] : file.metadata()) {
    if (key.rfind("tokenizer.", 0) == 0) w.set(key, value);
  }
  return w;
}

Tokenizer tokenizer_from(const gguf::GgufWriter& w) {
  const auto path = temp_dir("tokenizer") / "model.gguf";
  w.write(path);
  const auto file = gguf::GgufFile::open(path);
  return Tokenizer::create(plugins(), file);
}

gguf::GgufWriter tiny_spm(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                          const std::vector<int32_t>& types) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> all_scores = {0, 0, 0};
  std::vector<int32_t> all_types = {2, 3, 3};
  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
    all_scores.push_back(0);
    all_types.push_back(6);
  }
  for (size_t i = 0; i < pieces.size(); ++i) {
    tokens.push_back(pieces[i]);
    all_scores.push_back(scores.at(i));
    all_types.push_back(i < types.size() ? types[i] : 1);
  }
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_array("tokenizer.ggml.scores", all_scores);
  w.set_array("tokenizer.ggml.token_type", all_types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  return w;
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 < 0x80) len = 1;
    else if (b0 >= 0xC2 && b0 <= 0xDF) len = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF) len = 3, lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    else if (b0 >= 0xF0 && b0 <= 0xF4) len = 4, lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    else return false;
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace strata::test
