// Shared helpers of the tokenizer tests: the plugin registry, tokenizers of the shared vocab
// files (loaded once per process), the llama.cpp-format test vectors, and synthetic models.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/gguf/gguf_writer.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/tokenizer/tokenizer.h"

namespace strata::test {

const PluginRegistry& plugins();
// The tokenizer of models/vocab/ggml-vocab-NAME.gguf, created on first use.
const Tokenizer& vocab_tokenizer(const std::string& name);
std::filesystem::path vocab_path(const std::string& name);

// The strings of NAME's .inp file (separated by "\n__ggml_vocab_test__\n"; the empty piece
// after the final separator is not a test string).
std::vector<std::string> vocab_inputs(const std::string& name);
// The expected ids of NAME's .out file, one line per input; nullopt when there is no .out.
std::optional<std::vector<std::vector<int32_t>>> vocab_outputs(const std::string& name);

// A writer holding every tokenizer.* key of a shared vocab file, for tests that then break one.
gguf::GgufWriter writer_from_vocab(const std::string& name);
// Writes `w` to a temporary file and builds a tokenizer from it (throws as Tokenizer::create).
Tokenizer tokenizer_from(const gguf::GgufWriter& w);

// A small SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then `pieces`
// (type NORMAL unless given in `types`) with the given scores.
gguf::GgufWriter tiny_spm(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                          const std::vector<int32_t>& types = {});

// True when `s` is well-formed UTF-8.
bool valid_utf8(const std::string& s);

}  // namespace strata::test
