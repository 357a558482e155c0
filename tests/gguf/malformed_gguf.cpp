#include "tests/gguf/malformed_gguf.h"

#include <fstream>
#include <stdexcept>

#include "tests/gguf/gguf_bytes.h"

namespace strata::test {
namespace {

// GGUF value type ids and ggml tensor type ids used below.
constexpr uint32_t kU32 = 4, kBool = 7, kString = 8, kArray = 9, kU64 = 10;
constexpr uint32_t kF32 = 0, kQ4_0 = 2, kF64 = 28;

class Samples {
 public:
  void add(std::string name, GgufBytes& b, std::string field, uint64_t offset, std::string what) {
    out.push_back({std::move(name), b.take(), std::move(field), offset, std::move(what)});
  }
  std::vector<MalformedGguf> out;
};

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// A header announcing `n_tensors` tensors and one key, and that key.
GgufBytes tensor_file_prefix(uint64_t n_tensors) {
  GgufBytes b;
  b.header(3, n_tensors, 1).kv_string("general.architecture", "test");
  return b;
}

// Pads to the data section and appends `n` data bytes.
void data_section(GgufBytes& b, size_t n) { b.pad_to(32).zeros(n); }

void header_cases(Samples& s) {
  {
    GgufBytes b;
    b.raw("GGUX").u32(3).u64(0).u64(0);
    s.add("bad_magic", b, "header.magic", 0, "not a GGUF file");
  }
  {
    GgufBytes b;
    s.add("empty_file", b, "header.magic", 0, "truncated");
  }
  {
    GgufBytes b;
    b.raw("GGUF").u32(3);
    const uint64_t at = b.pos();
    b.u32(0);
    s.add("truncated_header", b, "header.n_tensors", at, "truncated: needs 8 bytes, 4 left");
  }
  const struct {
    const char* name;
    uint32_t version;
    const char* what;
  } versions[] = {
      {"version_1", 1, "GGUF version 1 is not supported"},
      {"version_big_endian", 0x03000000, "big-endian GGUF (version 3) is not supported"},
      {"version_99", 99, "unsupported GGUF version 99"},
  };
  for (const auto& v : versions) {
    GgufBytes b;
    b.raw("GGUF");
    const uint64_t at = b.pos();
    b.u32(v.version).u64(0).u64(0);
    s.add(v.name, b, "header.version", at, v.what);
  }
  {
    GgufBytes b;
    b.header(3, uint64_t{1} << 62, 0).zeros(64);
    s.add("n_tensors_huge", b, "header.n_tensors", 8, "4611686018427387904 tensors cannot fit in the 64 bytes left");
  }
  {
    GgufBytes b;
    b.header(3, 0, UINT64_MAX).zeros(64);
    s.add("n_kv_huge", b, "header.n_kv", 16, "18446744073709551615 key-value pairs cannot fit in the 64 bytes left");
  }
}

void key_cases(Samples& s) {
  {
    GgufBytes b;
    b.header(3, 0, 1);
    const uint64_t at = b.pos();
    b.u64(100).raw("general.").zeros(6);
    s.add("key_longer_than_file", b, "metadata[0] key", at, "key length 100 exceeds the 14 bytes left");
  }
  {
    GgufBytes b;
    b.header(3, 0, 1);
    const uint64_t at = b.pos();
    b.str("").u32(kU32).u32(7);
    s.add("empty_key", b, "metadata[0] key", at, "empty key");
  }
  {
    GgufBytes b;
    b.header(3, 0, 1);
    const uint64_t at = b.pos();
    b.str("general.\xff").u32(kU32).u32(1);
    s.add("key_invalid_utf8", b, "metadata[0] key", at, "key 'general.\\xff' is not valid UTF-8");
  }
  {
    GgufBytes b;
    b.header(3, 0, 2).kv_string("general.name", "a");
    const uint64_t at = b.pos();
    b.kv_string("general.name", "b");
    s.add("duplicate_key", b, "metadata[1] 'general.name'", at, "duplicate key (first defined by metadata[0])");
  }
}

void value_cases(Samples& s) {
  {
    GgufBytes b;
    b.header(3, 0, 1).str("general.x");
    const uint64_t at = b.pos();
    b.u32(13).u32(0);
    s.add("unknown_value_type", b, "metadata[0] 'general.x'", at, "unknown value type 13");
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("general.x", kU64);
    const uint64_t at = b.pos();
    b.u32(0);
    s.add("truncated_value", b, "metadata[0] 'general.x'", at, "truncated: needs 8 bytes, 4 left");
  }
  {
    GgufBytes b;
    b.header(3, 0, 2).kv_u32("a.b", 1).key("a.c", kString);
    const uint64_t at = b.pos();
    b.u64(5).raw("ab");
    s.add("string_value_truncated", b, "metadata[1] 'a.c'", at, "string length 5 exceeds the 2 bytes left");
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("general.name", kString);
    const uint64_t at = b.pos();
    b.u64(uint64_t{1} << 40).raw("abc");
    s.add("string_length_huge", b, "metadata[0] 'general.name'", at, "string length 1099511627776 exceeds");
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("a.flag", kBool);
    const uint64_t at = b.pos();
    b.u8(2);
    s.add("bool_invalid", b, "metadata[0] 'a.flag'", at, "bool value 2 is not 0 or 1");
  }
}

void array_cases(Samples& s) {
  {
    GgufBytes b;
    b.header(3, 0, 1).key("a.arr", kArray).u32(kU32);
    const uint64_t at = b.pos();
    b.u64(uint64_t{1} << 61).u32(1).u32(2);
    s.add("array_length_huge", b, "metadata[0] 'a.arr'", at,
          "2305843009213693952 elements of u32 cannot fit in the 8 bytes left");
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("tokenizer.ggml.tokens", kArray).u32(kString).u64(3).str("a");
    const uint64_t at = b.pos();
    b.u64(1000).raw("bc").zeros(16);
    s.add("string_array_element_too_long", b, "metadata[0] 'tokenizer.ggml.tokens'", at,
          "element 1: string length 1000 exceeds the 18 bytes left");
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("a.arr", kArray);
    const uint64_t at = b.pos();
    b.u32(99).u64(0);
    s.add("unknown_array_type", b, "metadata[0] 'a.arr'", at, "unknown array element type 99");
  }
  {
    // Arrays at nesting levels 1..7 may hold arrays; the one at level 8 may not.
    GgufBytes b;
    b.header(3, 0, 1).key("a.deep", kArray);
    for (int level = 1; level < 8; ++level) b.u32(kArray).u64(1);
    const uint64_t at = b.pos();
    b.u32(kArray).u64(1).zeros(32);
    s.add("array_nesting_too_deep", b, "metadata[0] 'a.deep'", at, "arrays nested deeper than 8 levels");
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("a.flags", kArray).u32(kBool).u64(3).u8(1).u8(0);
    const uint64_t at = b.pos();
    b.u8(5);
    s.add("bool_array_invalid", b, "metadata[0] 'a.flags'", at, "element 2: bool value 5 is not 0 or 1");
  }
}

void alignment_cases(Samples& s) {
  const struct {
    const char* name;
    uint32_t value;
  } bad[] = {{"alignment_zero", 0}, {"alignment_not_power_of_two", 48}};
  for (const auto& a : bad) {
    GgufBytes b;
    b.header(3, 0, 1).key("general.alignment", kU32);
    const uint64_t at = b.pos();
    b.u32(a.value);
    s.add(a.name, b, "metadata[0] 'general.alignment'", at,
          "alignment " + std::to_string(a.value) + " is not a power of two");
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("general.alignment", kU64);
    const uint64_t at = b.pos();
    b.u64(32);
    s.add("alignment_wrong_type", b, "metadata[0] 'general.alignment'", at, "general.alignment must be a u32, not u64");
  }
}

void tensor_info_cases(Samples& s) {
  {
    GgufBytes b = tensor_file_prefix(1);
    const uint64_t at = b.pos();
    b.tensor("", {8}, kF32, 0);
    data_section(b, 32);
    s.add("tensor_empty_name", b, "tensor[0] name", at, "empty tensor name");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    const uint64_t at = b.pos();
    b.tensor("w\xc3", {8}, kF32, 0);
    data_section(b, 32);
    s.add("tensor_name_invalid_utf8", b, "tensor[0] name", at, "tensor name 'w\\xc3' is not valid UTF-8");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("w");
    const uint64_t at = b.pos();
    b.u32(0).u32(kF32).u64(0);
    data_section(b, 32);
    s.add("tensor_n_dims_zero", b, "tensor 'w' n_dims", at, "n_dims 0 is not in 1..4");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("w");
    const uint64_t at = b.pos();
    b.u32(5).u64(1).u64(1).u64(1).u64(1).u64(1).u32(kF32).u64(0);
    data_section(b, 32);
    s.add("tensor_n_dims_five", b, "tensor 'w' n_dims", at, "n_dims 5 is not in 1..4");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("w").u32(2).u64(4);
    const uint64_t at = b.pos();
    b.u64(0).u32(kF32).u64(0);
    data_section(b, 32);
    s.add("tensor_dim_zero", b, "tensor 'w' dims", at, "dims[1] = 0 is not positive");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("w").u32(2);
    const uint64_t at = b.pos();
    b.i64(-5).u64(4).u32(kF32).u64(0);
    data_section(b, 32);
    s.add("tensor_dim_negative", b, "tensor 'w' dims", at, "dims[0] = -5 is not positive");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("w").u32(2).u64(uint64_t{1} << 32);
    const uint64_t at = b.pos();
    b.u64(uint64_t{1} << 32).u32(kF32).u64(0);
    data_section(b, 32);
    s.add("tensor_elements_overflow", b, "tensor 'w' dims", at, "element count overflows 64 bits");
  }
  {
    // 2^61 f64 elements fit in int64, their 2^64 bytes do not fit in 64 bits.
    GgufBytes b = tensor_file_prefix(1);
    b.str("w").u32(1);
    const uint64_t at = b.pos();
    b.u64(uint64_t{1} << 61).u32(kF64).u64(0);
    data_section(b, 32);
    s.add("tensor_bytes_overflow", b, "tensor 'w' dims", at, "byte size overflows 64 bits");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("w").u32(1).u64(8);
    const uint64_t at = b.pos();
    b.u32(4).u64(0);  // 4 was Q4_2, removed from ggml
    data_section(b, 32);
    s.add("tensor_unknown_type", b, "tensor 'w' type", at, "unknown tensor type 4");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("w").u32(2);
    const uint64_t at = b.pos();
    b.u64(48).u64(2).u32(kQ4_0).u64(0);
    data_section(b, 2 * 18 * 2);
    s.add("tensor_row_not_block_multiple", b, "tensor 'w' dims", at,
          "row length 48 is not a multiple of the block size 32 of q4_0");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("blk.0.attn_q.weight").u32(4).u64(2).u64(2).u64(2);
    const uint64_t at = b.pos();
    b.u32(0);
    s.add("tensor_info_truncated", b, "tensor 'blk.0.attn_q.weight' dims", at, "truncated: needs 8 bytes, 4 left");
  }
}

void tensor_data_cases(Samples& s) {
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("w").u32(1).u64(8).u32(kF32);
    const uint64_t at = b.pos();
    b.u64(16);
    data_section(b, 64);
    s.add("tensor_offset_unaligned", b, "tensor 'w' offset", at, "data offset 16 is not a multiple of the alignment 32");
  }
  {
    GgufBytes b;
    b.header(3, 1, 1).kv_u32("general.alignment", 64);
    b.str("w").u32(1).u64(8).u32(kF32);
    const uint64_t at = b.pos();
    b.u64(32);
    b.pad_to(64).zeros(128);
    s.add("tensor_offset_unaligned_custom_alignment", b, "tensor 'w' offset", at,
          "data offset 32 is not a multiple of the alignment 64");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("w").u32(1).u64(8).u32(kF32);
    const uint64_t at = b.pos();
    b.u64(0);
    const uint64_t data = align_up(b.pos(), 32);
    data_section(b, 32);
    b.truncate(b.pos() - 8);
    s.add("tensor_data_truncated", b, "tensor 'w' offset", at,
          "data at offset 0 of the data section (byte " + std::to_string(data) + "), 32 bytes long, is outside the file");
  }
  {
    GgufBytes b = tensor_file_prefix(1);
    b.str("w").u32(1).u64(8).u32(kF32);
    const uint64_t at = b.pos();
    b.u64(UINT64_MAX - 31);
    data_section(b, 32);
    s.add("tensor_offset_overflow", b, "tensor 'w' offset", at, "data at offset 18446744073709551584 of the data section");
  }
  {
    GgufBytes b = tensor_file_prefix(2);
    b.tensor("a", {8}, kF32, 0).str("b").u32(1).u64(8).u32(kF32);
    const uint64_t at = b.pos();
    b.u64(0);
    const uint64_t d = align_up(b.pos(), 32);
    data_section(b, 64);
    s.add("tensor_overlap_same_offset", b, "tensor 'b' offset", at,
          "data [" + std::to_string(d) + ", " + std::to_string(d + 32) + ") overlaps tensor 'a' [" + std::to_string(d) +
              ", " + std::to_string(d + 32) + ")");
  }
  {
    // 'b' is listed first but starts inside 'a': the later tensor info ('a') is blamed.
    GgufBytes b = tensor_file_prefix(2);
    b.tensor("b", {8}, kF32, 32).str("a").u32(1).u64(16).u32(kF32);
    const uint64_t at = b.pos();
    b.u64(0);
    const uint64_t d = align_up(b.pos(), 32);
    data_section(b, 64);
    s.add("tensor_overlap_partial", b, "tensor 'a' offset", at,
          "data [" + std::to_string(d) + ", " + std::to_string(d + 64) + ") overlaps tensor 'b' [" +
              std::to_string(d + 32) + ", " + std::to_string(d + 64) + ")");
  }
  {
    GgufBytes b = tensor_file_prefix(2);
    b.tensor("a", {8}, kF32, 0);
    const uint64_t at = b.pos();
    b.tensor("a", {8}, kF32, 32);
    data_section(b, 64);
    s.add("tensor_duplicate_name", b, "tensor 'a'", at, "duplicate tensor name (first defined by tensor[0])");
  }
}

}  // namespace

std::vector<MalformedGguf> malformed_gguf_samples() {
  Samples s;
  header_cases(s);
  key_cases(s);
  value_cases(s);
  array_cases(s);
  alignment_cases(s);
  tensor_info_cases(s);
  tensor_data_cases(s);
  return std::move(s.out);
}

std::vector<MalformedCase> make_malformed_gguf_cases(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::vector<MalformedCase> cases;
  for (auto& m : malformed_gguf_samples()) {
    const auto path = dir / (m.name + ".gguf");
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(m.bytes.data()), static_cast<std::streamsize>(m.bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + path.string());
    cases.push_back({m.name, path, m.expected(), m.field, m.offset});
  }
  return cases;
}

}  // namespace strata::test
