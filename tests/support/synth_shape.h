// The start of every synthesized test model: a llama shape with the shared llama vocabulary,
// synthesized on 2 threads. Tests then set the type, seed and whatever else they vary.
// Header-only: its users link strata_engine already.
#pragma once

#include <cstdint>

#include "engine/model/synth.h"
#include "tests/support/test_paths.h"

namespace strata::test {

inline SynthSpec synth_shape(int64_t dim, int64_t layers, int64_t heads, int64_t kv_heads, int64_t ffn,
                             int64_t context) {
  SynthSpec s;
  s.dim = dim;
  s.layers = layers;
  s.heads = heads;
  s.kv_heads = kv_heads;
  s.ffn = ffn;
  s.context = context;
  s.vocab_from = shared_path("models/vocab/ggml-vocab-llama-spm.gguf");
  s.threads = 2;
  return s;
}

}  // namespace strata::test
