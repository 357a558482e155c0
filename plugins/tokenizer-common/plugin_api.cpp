#include "tokenizer-common/plugin_api.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "tokenizer-common/plugin_error.h"

namespace strata::tokenizer_plugin {

void set_error(strata_plugin_error* err, std::string_view message) {
  if (!err) return;
  const size_t n = std::min(message.size(), sizeof(err->message) - 1);
  std::memcpy(err->message, message.data(), n);
  err->message[n] = '\0';
  std::replace(err->message, err->message + n, '\n', ' ');
}

namespace api {
namespace {

const TokenizerBase* impl(const strata_tokenizer* tok) { return reinterpret_cast<const TokenizerBase*>(tok); }

}  // namespace

int create_tokenizer(strata_tokenizer** out, strata_plugin_error* err,
                     const std::function<std::unique_ptr<TokenizerBase>()>& make) {
  if (!out) {
    set_error(err, "create: NULL output pointer");
    return STRATA_PLUGIN_EINVAL;
  }
  *out = nullptr;
  try {
    *out = reinterpret_cast<strata_tokenizer*>(make().release());
    return STRATA_PLUGIN_OK;
  } catch (const PluginError& e) {
    set_error(err, e.what());
    return e.code();
  } catch (const std::bad_alloc&) {
    set_error(err, "out of memory while loading the vocabulary");
    return STRATA_PLUGIN_ENOMEM;
  } catch (const std::exception& e) {
    set_error(err, e.what());
    return STRATA_PLUGIN_EINTERNAL;
  }
}

void destroy(strata_tokenizer* tok) { delete reinterpret_cast<TokenizerBase*>(tok); }

int32_t n_vocab(const strata_tokenizer* tok) { return tok ? impl(tok)->vocab().size() : 0; }

int32_t special_token(const strata_tokenizer* tok, int role) { return tok ? impl(tok)->vocab().special(role) : -1; }

int adds_bos(const strata_tokenizer* tok) { return tok && impl(tok)->vocab().add_bos() ? 1 : 0; }

int adds_eos(const strata_tokenizer* tok) { return tok && impl(tok)->vocab().add_eos() ? 1 : 0; }

uint32_t token_attr(const strata_tokenizer* tok, int32_t id) { return tok ? impl(tok)->vocab().attr(id) : 0; }

int encode(const strata_tokenizer* tok, const char* text, size_t len, uint32_t flags, int32_t* tokens,
           size_t capacity, size_t* n_tokens, strata_plugin_error* err) {
  if (!tok || (!text && len) || !n_tokens || (!tokens && capacity)) {
    set_error(err, "encode: invalid argument");
    return STRATA_PLUGIN_EINVAL;
  }
  try {
    std::vector<int32_t> ids;
    impl(tok)->encode(std::string_view(text ? text : "", len), flags, ids);
    *n_tokens = ids.size();
    if (ids.size() > capacity) {
      set_error(err, "encode: " + std::to_string(ids.size()) + " tokens do not fit in " + std::to_string(capacity));
      return STRATA_PLUGIN_ENOSPACE;
    }
    std::copy(ids.begin(), ids.end(), tokens);
    return STRATA_PLUGIN_OK;
  } catch (const PluginError& e) {
    set_error(err, e.what());
    return e.code();
  } catch (const std::bad_alloc&) {
    set_error(err, "encode: out of memory");
    return STRATA_PLUGIN_ENOMEM;
  } catch (const std::exception& e) {
    set_error(err, e.what());
    return STRATA_PLUGIN_EINTERNAL;
  }
}

int token_to_piece(const strata_tokenizer* tok, int32_t id, uint32_t flags, char* buf, size_t capacity, size_t* len) {
  if (!tok || !len || (!buf && capacity)) return STRATA_PLUGIN_EINVAL;
  if (!impl(tok)->vocab().valid(id)) return STRATA_PLUGIN_ENOTFOUND;
  try {
    std::string piece;
    impl(tok)->piece(id, flags, piece);
    *len = piece.size();
    if (piece.size() > capacity) return STRATA_PLUGIN_ENOSPACE;
    if (!piece.empty()) std::memcpy(buf, piece.data(), piece.size());
    return STRATA_PLUGIN_OK;
  } catch (const std::bad_alloc&) {
    return STRATA_PLUGIN_ENOMEM;
  } catch (const std::exception&) {
    return STRATA_PLUGIN_EINTERNAL;
  }
}

}  // namespace api
}  // namespace strata::tokenizer_plugin
