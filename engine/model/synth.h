// Synthesizes a GGUF model with random weights of a given shape, for tests and benchmarks: a
// valid file that this engine and llama.cpp both load, with the real tokenizer copied from a
// vocabulary GGUF. The weights are uniform random with a fan-in-scaled spread, so activations
// stay in a realistic range and generation is deterministic gibberish.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "kernels/cpu/tensor_type.h"

namespace strata {

struct SynthSpec {
  std::string arch = "llama";
  int64_t dim = 256;
  int64_t layers = 2;
  int64_t heads = 8;
  int64_t kv_heads = 4;
  int64_t ffn = 768;
  int64_t context = 4096;
  float rope_base = 10000.0f;
  std::filesystem::path vocab_from;        // GGUF whose tokenizer.* keys are copied
  TensorType type = TensorType::Q8_0;      // token embedding and layer matrices
  std::optional<TensorType> output_type;   // default: q6_K for 4- and 5-bit types (as llama-quantize does), else `type`
  bool tied_embeddings = false;            // no output.weight: the embedding matrix is reused
  uint64_t seed = 1;
  int threads = 0;                         // 0: every core
};

// Writes the model to `out` (via a temporary file renamed at the end). Returns the file size.
// Throws Error(InvalidArgument) for an impossible shape (e.g. dim not a multiple of the type's
// block) and ModelFileError when the vocabulary file is unusable.
uint64_t synthesize_model(const SynthSpec& spec, const std::filesystem::path& out);

// The output-matrix type used when SynthSpec::output_type is unset.
TensorType default_output_type(TensorType type);

}  // namespace strata
