#include "engine/tokenizer/tokenizer.h"

#include <cstddef>
#include <cstring>
#include <utility>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/plugin/metadata_bridge.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/tokenizer/utf8_assembler.h"

namespace strata {
namespace {

ErrorKind kind_of(int rc) {
  switch (rc) {
    case STRATA_PLUGIN_EMODEL: return ErrorKind::ModelFile;
    case STRATA_PLUGIN_EUNSUPPORTED: return ErrorKind::Unsupported;
    case STRATA_PLUGIN_ENOMEM: return ErrorKind::OutOfMemory;
    case STRATA_PLUGIN_EINVAL: return ErrorKind::InvalidArgument;
    default: return ErrorKind::Plugin;
  }
}

std::string message_of(const strata_plugin_error& err, int rc) {
  std::string m(err.message, strnlen(err.message, sizeof(err.message)));
  return m.empty() ? "error " + std::to_string(rc) : m;
}

// A string key's value for messages, or a note of its absence.
std::string describe_key(const gguf::GgufFile& file, std::string_view key) {
  const gguf::Value* v = file.find(key);
  if (!v) return std::string(key) + " absent";
  if (v->type() != gguf::ValueType::STRING) return std::string(key) + " = " + v->to_display();
  return std::string(key) + " = '" + v->as_string() + "'";
}

}  // namespace

Tokenizer Tokenizer::create(const PluginRegistry& registry, const gguf::GgufFile& file) {
  MetadataBridge bridge(file);
  const strata_tokenizer_api* api = registry.find_tokenizer(bridge.get());
  if (!api) {
    throw Error(ErrorKind::Plugin, file.path() + ": no tokenizer plugin supports " +
                                       describe_key(file, "tokenizer.ggml.model") + " (" +
                                       describe_key(file, "tokenizer.ggml.pre") + "); loaded: " + registry.describe());
  }
  return create(*api, bridge.get(), file.path());
}

Tokenizer Tokenizer::create(const strata_tokenizer_api& api, const strata_metadata* meta, std::string_view source) {
  // Tables only grow at their end: everything up to token_to_piece must be there.
  constexpr size_t kNeeded = offsetof(strata_tokenizer_api, token_to_piece) + sizeof(api.token_to_piece);
  if (api.struct_size < kNeeded || !api.create || !api.destroy || !api.n_vocab || !api.special_token ||
      !api.adds_bos || !api.adds_eos || !api.token_attr || !api.encode || !api.token_to_piece) {
    throw Error(ErrorKind::Plugin, std::string(source) + ": the tokenizer plugin's function table is incomplete");
  }
  strata_plugin_error err{};
  strata_tokenizer* handle = nullptr;
  const int rc = api.create(meta, &handle, &err);
  if (rc != STRATA_PLUGIN_OK || !handle) {
    if (handle) api.destroy(handle);
    throw Error(kind_of(rc), std::string(source) + ": tokenizer: " + message_of(err, rc));
  }
  return Tokenizer(&api, handle);
}

Tokenizer::Tokenizer(const strata_tokenizer_api* api, strata_tokenizer* handle) : api_(api), handle_(handle) {
  n_vocab_ = api_->n_vocab(handle_);
  for (int role = 0; role <= STRATA_SPECIAL_FIM_MID; ++role) specials_[role] = api_->special_token(handle_, role);
  adds_bos_ = api_->adds_bos(handle_) == 1;
  adds_eos_ = api_->adds_eos(handle_) == 1;
}

Tokenizer::Tokenizer(Tokenizer&& other) noexcept { *this = std::move(other); }

Tokenizer& Tokenizer::operator=(Tokenizer&& other) noexcept {
  if (this != &other) {
    if (handle_) api_->destroy(handle_);
    api_ = other.api_;
    handle_ = std::exchange(other.handle_, nullptr);
    n_vocab_ = other.n_vocab_;
    std::copy(std::begin(other.specials_), std::end(other.specials_), specials_);
    adds_bos_ = other.adds_bos_;
    adds_eos_ = other.adds_eos_;
  }
  return *this;
}

Tokenizer::~Tokenizer() {
  if (handle_) api_->destroy(handle_);
}

int32_t Tokenizer::special(int role) const {
  return role >= 0 && role <= STRATA_SPECIAL_FIM_MID ? specials_[role] : -1;
}

uint32_t Tokenizer::token_attr(int32_t id) const { return id >= 0 && id < n_vocab_ ? api_->token_attr(handle_, id) : 0; }

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= n_vocab_) {
    throw Error(ErrorKind::InvalidArgument,
                "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(n_vocab_));
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  uint32_t flags = 0;
  if (add_special) flags |= STRATA_TOKENIZE_ADD_DEFAULT;
  if (parse_special) flags |= STRATA_TOKENIZE_PARSE_SPECIAL;
  // Usually at most one token per byte; the plugin reports the exact need when more are needed.
  std::vector<int32_t> ids(text.size() + 16);
  for (int attempt = 0; attempt < 2; ++attempt) {
    strata_plugin_error err{};
    size_t n = 0;
    const int rc = api_->encode(handle_, text.data(), text.size(), flags, ids.data(), ids.size(), &n, &err);
    if (rc == STRATA_PLUGIN_OK) {
      ids.resize(n);
      return ids;
    }
    if (rc != STRATA_PLUGIN_ENOSPACE || n <= ids.size()) throw Error(kind_of(rc), "tokenizer: " + message_of(err, rc));
    ids.resize(n);
  }
  throw Error(ErrorKind::Plugin, "tokenizer: encode kept asking for more room");
}

std::string Tokenizer::piece(int32_t id, bool render_special) const {
  check_id(id);
  const uint32_t flags = render_special ? uint32_t{STRATA_PIECE_RENDER_SPECIAL} : 0u;
  std::string out(32, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    size_t len = 0;
    const int rc = api_->token_to_piece(handle_, id, flags, out.data(), out.size(), &len);
    if (rc == STRATA_PLUGIN_OK) {
      out.resize(len);
      return out;
    }
    if (rc != STRATA_PLUGIN_ENOSPACE || len <= out.size())
      throw Error(kind_of(rc), "tokenizer: token " + std::to_string(id) + ": error " + std::to_string(rc));
    out.resize(len);
  }
  throw Error(ErrorKind::Plugin, "tokenizer: token_to_piece kept asking for more room");
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  Utf8Assembler utf8;
  std::string out;
  for (int32_t id : ids) utf8.push(piece(id, render_special), out);
  out += utf8.flush();
  return out;
}

}  // namespace strata
