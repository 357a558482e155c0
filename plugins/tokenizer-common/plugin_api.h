// The C entry points every tokenizer plugin shares. A plugin's strata_tokenizer_api table points
// at these for everything except supports() and create(), which it writes itself with
// create_tokenizer() doing the error handling. A strata_tokenizer* is a TokenizerBase*.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "strata/plugin.h"
#include "tokenizer-common/tokenizer_base.h"

namespace strata::tokenizer_plugin::api {

// Runs `make` and hands its result to the host, converting PluginError and std::bad_alloc to
// result codes and messages.
int create_tokenizer(strata_tokenizer** out, strata_plugin_error* err,
                     const std::function<std::unique_ptr<TokenizerBase>()>& make);

void destroy(strata_tokenizer* tok);
int32_t n_vocab(const strata_tokenizer* tok);
int32_t special_token(const strata_tokenizer* tok, int role);
int adds_bos(const strata_tokenizer* tok);
int adds_eos(const strata_tokenizer* tok);
uint32_t token_attr(const strata_tokenizer* tok, int32_t id);
int encode(const strata_tokenizer* tok, const char* text, size_t len, uint32_t flags, int32_t* tokens,
           size_t capacity, size_t* n_tokens, strata_plugin_error* err);
int token_to_piece(const strata_tokenizer* tok, int32_t id, uint32_t flags, char* buf, size_t capacity, size_t* len);

}  // namespace strata::tokenizer_plugin::api
