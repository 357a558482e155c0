#include "engine/model/synth.h"

#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/threads/thread_pool.h"
#include "kernels/cpu/kernels.h"

namespace strata {
namespace {

// splitmix64: a tiny, fast generator; one stream per (tensor, row) keeps the output
// independent of the thread count.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t hash_name(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// llama.cpp's general.file_type numbering for the types synth writes.
uint32_t file_type_of(TensorType t) {
  switch (t) {
    case TensorType::F32: return 0;
    case TensorType::F16: return 1;
    case TensorType::Q4_0: return 2;
    case TensorType::Q4_1: return 3;
    case TensorType::Q8_0: return 7;
    case TensorType::Q5_0: return 8;
    case TensorType::Q5_1: return 9;
    case TensorType::Q4_K: return 15;  // "Q4_K_M" when paired with a q6_K output
    case TensorType::Q5_K: return 17;
    case TensorType::Q6_K: return 18;
    case TensorType::BF16: return 32;
    default: return 0;
  }
}

class TensorMaker {
 public:
  TensorMaker(const SynthSpec& spec, ThreadPool& pool) : spec_(spec), pool_(pool) {}

  // A [cols x rows] matrix of `type`, uniform random with standard deviation `stddev`.
  std::vector<uint8_t> matrix(const std::string& name, int64_t cols, int64_t rows, TensorType type, float stddev) {
    const auto& kernels = cpu::reference_kernels(type);
    const uint64_t rb = row_bytes(type, cols);
    std::vector<uint8_t> data(rb * rows);
    const uint64_t base = hash_name(name, spec_.seed);
    const float half_width = stddev * std::sqrt(3.0f);
    pool_.parallel_for(rows, 64, [&](int64_t begin, int64_t end) {
      std::vector<float> row(cols);
      for (int64_t r = begin; r < end; ++r) {
        uint64_t state = base + static_cast<uint64_t>(r) * 0x632BE59BD9B4E019ull;
        for (int64_t i = 0; i < cols; ++i) {
          const double u = static_cast<double>(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
          row[i] = static_cast<float>((2.0 * u - 1.0) * half_width);
        }
        kernels.from_float(row.data(), data.data() + r * rb, cols);
      }
    });
    return data;
  }

  // An F32 norm vector near 1.
  std::vector<uint8_t> norm(const std::string& name, int64_t n) {
    std::vector<float> v(n);
    uint64_t state = hash_name(name, spec_.seed);
    for (auto& x : v) x = 1.0f + 0.1f * static_cast<float>(static_cast<double>(splitmix64(state) >> 11) / 9007199254740992.0 - 0.5);
    std::vector<uint8_t> bytes(n * sizeof(float));
    std::memcpy(bytes.data(), v.data(), bytes.size());
    return bytes;
  }

 private:
  const SynthSpec& spec_;
  ThreadPool& pool_;
};

void check_shape(const SynthSpec& s, TensorType out_type) {
  auto fail = [](const std::string& m) { throw Error(ErrorKind::InvalidArgument, "model synth: " + m); };
  if (s.arch != "llama") fail("only --arch llama is supported");
  if (s.dim <= 0 || s.layers <= 0 || s.heads <= 0 || s.kv_heads <= 0 || s.ffn <= 0 || s.context <= 0)
    fail("dimensions must be positive");
  if (s.dim % s.heads != 0) fail("--dim " + std::to_string(s.dim) + " is not a multiple of --heads " + std::to_string(s.heads));
  if (s.heads % s.kv_heads != 0) fail("--heads must be a multiple of --kv-heads");
  if ((s.dim / s.heads) % 2 != 0) fail("the head size dim/heads must be even");
  for (TensorType t : {s.type, out_type}) {
    const auto& tr = traits_of(t);
    if (!tr.has_kernels || t == TensorType::Q8_1 || t == TensorType::Q8_K)
      fail("tensor type " + std::string(tr.name) + " cannot be synthesized");
    const auto& act = traits_of(cpu::vec_dot_type(t));
    const int64_t block = std::max(tr.block_elems, act.block_elems);
    for (int64_t cols : {s.dim, s.ffn})
      if (cols % block != 0)
        fail("rows of " + std::to_string(cols) + " elements do not fit " + std::string(tr.name) + " blocks of " +
             std::to_string(block) + " (choose --dim and --ffn multiples of " + std::to_string(block) + ")");
  }
}

}  // namespace

TensorType default_output_type(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1:
    case TensorType::Q4_K: case TensorType::Q5_K:
      return TensorType::Q6_K;
    default:
      return type;
  }
}

uint64_t synthesize_model(const SynthSpec& s, const std::filesystem::path& out) {
  const TensorType out_type = s.output_type.value_or(default_output_type(s.type));
  check_shape(s, out_type);
  auto vocab = gguf::GgufFile::open(s.vocab_from);
  const gguf::Value* tokens = vocab.find("tokenizer.ggml.tokens");
  if (!tokens || !tokens->is_array() || tokens->size() == 0)
    throw ModelFileError(vocab.path(), "metadata 'tokenizer.ggml.tokens'", ModelFileError::kNoOffset,
                         "missing or empty: --vocab-from needs a GGUF with a tokenizer");
  const int64_t V = static_cast<int64_t>(tokens->size());
  const int64_t E = s.dim, H = s.heads, KVH = s.kv_heads, F = s.ffn, HD = E / H;

  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "strata-synth llama d" + std::to_string(E) + " l" + std::to_string(s.layers) + " " +
                                   std::string(tensor_type_name(s.type)));
  w.set_u32("general.file_type", file_type_of(s.type));
  w.set_u32("general.quantization_version", 2);
  w.set_u32("llama.context_length", static_cast<uint32_t>(s.context));
  w.set_u32("llama.embedding_length", static_cast<uint32_t>(E));
  w.set_u32("llama.block_count", static_cast<uint32_t>(s.layers));
  w.set_u32("llama.feed_forward_length", static_cast<uint32_t>(F));
  w.set_u32("llama.attention.head_count", static_cast<uint32_t>(H));
  w.set_u32("llama.attention.head_count_kv", static_cast<uint32_t>(KVH));
  w.set_u32("llama.rope.dimension_count", static_cast<uint32_t>(HD));
  w.set_f32("llama.rope.freq_base", s.rope_base);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_u32("llama.vocab_size", static_cast<uint32_t>(V));
  for (const auto& [key, value] : vocab.metadata())
    if (key.rfind("tokenizer.", 0) == 0) w.set(key, value);

  ThreadPool pool(s.threads > 0 ? s.threads : std::max(1u, std::thread::hardware_concurrency()));
  auto maker = std::make_shared<TensorMaker>(s, pool);
  // Tensors are produced while the file is written, one at a time, so a multi-GiB model needs
  // only one tensor's worth of memory.
  auto add_matrix = [&](const std::string& name, int64_t cols, int64_t rows, TensorType type, float stddev) {
    w.add_tensor_stream(name, {cols, rows}, type, [maker, name, cols, rows, type, stddev](const gguf::GgufWriter::ByteSink& sink) {
      auto data = maker->matrix(name, cols, rows, type, stddev);
      sink(data);
    });
  };
  auto add_norm = [&](const std::string& name, int64_t n) {
    w.add_tensor_stream(name, {n}, TensorType::F32, [maker, name, n](const gguf::GgufWriter::ByteSink& sink) {
      auto data = maker->norm(name, n);
      sink(data);
    });
  };
  const float in_e = 1.0f / std::sqrt(static_cast<float>(E)), in_f = 1.0f / std::sqrt(static_cast<float>(F));
  add_matrix("token_embd.weight", E, V, s.type, 1.0f);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add_norm(p + "attn_norm.weight", E);
    add_matrix(p + "attn_q.weight", E, E, s.type, in_e);
    add_matrix(p + "attn_k.weight", E, KVH * HD, s.type, in_e);
    add_matrix(p + "attn_v.weight", E, KVH * HD, s.type, in_e);
    add_matrix(p + "attn_output.weight", E, E, s.type, in_e);
    add_norm(p + "ffn_norm.weight", E);
    add_matrix(p + "ffn_gate.weight", E, F, s.type, in_e);
    add_matrix(p + "ffn_up.weight", E, F, s.type, in_e);
    add_matrix(p + "ffn_down.weight", F, E, s.type, in_f);
  }
  add_norm("output_norm.weight", E);
  if (!s.tied_embeddings) add_matrix("output.weight", E, V, out_type, 2.0f * in_e);
  return w.write(out);
}

}  // namespace strata
