// Writes the seed corpus of the GGUF fuzz target into a folder: small valid files made with
// GgufWriter (every value type, nested arrays, several tensor types and shapes, a custom
// alignment, a version-2 header, a vocabulary-like file) and every malformed sample of
// tests/gguf/malformed_gguf.h. Every file is under 4 KiB.
//
//   make_gguf_seeds SEED_DIR [EXTRA_EMPTY_DIR...]
// Extra folders are created (empty) too: libFuzzer wants a writable corpus folder of its own.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/gguf_writer.h"
#include "tests/gguf/malformed_gguf.h"

namespace {

namespace fs = std::filesystem;
using strata::TensorType;
using strata::gguf::GgufWriter;
using strata::gguf::Value;
using strata::gguf::ValueType;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 37);
  return v;
}

void write_valid_seeds(const fs::path& dir) {
  {
    GgufWriter w;
    w.write(dir / "valid_empty.gguf");
  }
  {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_u8("t.u8", 1);
    w.set_i8("t.i8", -1);
    w.set_u16("t.u16", 2);
    w.set_i16("t.i16", -2);
    w.set_u32("t.u32", 3);
    w.set_i32("t.i32", -3);
    w.set_u64("t.u64", 4);
    w.set_i64("t.i64", -4);
    w.set_f32("t.f32", 0.5f);
    w.set_f64("t.f64", 0.25);
    w.set_bool("t.bool", true);
    w.set_string("t.empty", "");
    w.set_array("t.f32s", std::vector<float>{1, 2, 3});
    w.set_array("t.i64s", std::vector<int64_t>{-1, 1});
    w.set("t.bools", Value::bool_array({true, false}));
    w.set("t.nested", Value::array_of_arrays({Value::array(std::vector<uint16_t>{1, 2}),
                                              Value::array_of_arrays({Value::empty_array(ValueType::STRING)})}));
    w.add_tensor("f32", {4, 2}, TensorType::F32, pattern(32, 1));
    w.add_tensor("f16", {3}, TensorType::F16, pattern(6, 2));
    w.add_tensor("q4_0", {32, 2}, TensorType::Q4_0, pattern(36, 3));
    w.add_tensor("q8_0", {32}, TensorType::Q8_0, pattern(34, 4));
    w.add_tensor("i32.4d", {1, 2, 1, 2}, TensorType::I32, pattern(16, 5));
    w.write(dir / "valid_all_types.gguf");
  }
  {
    GgufWriter w;
    w.set_u32("general.alignment", 64);
    w.add_tensor("a", {8}, TensorType::F32, pattern(32, 6));
    w.add_tensor("b", {256}, TensorType::Q4_K, pattern(144, 7));
    w.write(dir / "valid_alignment_64.gguf");
  }
  {
    GgufWriter w;
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    const char* special[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 40; ++i) {
      tokens.push_back(i < 3 ? std::string(special[i]) : std::string("t").append(std::to_string(i)));
      scores.push_back(-static_cast<float>(i));
      types.push_back(i < 3 ? 3 : 1);
    }
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_array("tokenizer.ggml.scores", scores);
    w.set_array("tokenizer.ggml.token_type", types);
    w.set_u32("tokenizer.ggml.bos_token_id", 1);
    w.add_tensor("token_embd.weight", {4, 40}, TensorType::F16, pattern(320, 8));
    w.write(dir / "valid_vocab.gguf");
  }
  {
    // The same layout with a version-2 header.
    GgufWriter w;
    w.set_string("general.name", "v2");
    w.add_tensor("w", {2}, TensorType::F32, pattern(8, 9));
    const fs::path p = dir / "valid_version_2.gguf";
    w.write(p);
    std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4);
    const char two[4] = {2, 0, 0, 0};
    f.write(two, 4);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_gguf_seeds SEED_DIR [EXTRA_EMPTY_DIR...]\n");
    return 2;
  }
  try {
    const fs::path dir = argv[1];
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (int i = 2; i < argc; ++i) fs::create_directories(argv[i]);
    write_valid_seeds(dir);
    const auto cases = strata::test::make_malformed_gguf_cases(dir);
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (fs::file_size(e.path()) > 4096) {
        std::fprintf(stderr, "make_gguf_seeds: %s is larger than 4 KiB\n", e.path().c_str());
        return 1;
      }
      ++n;
    }
    std::printf("make_gguf_seeds: %zu seeds (%zu malformed) in %s\n", n, cases.size(), dir.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_gguf_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
