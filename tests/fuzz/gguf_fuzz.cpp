// Fuzz target for the GGUF reader: parse arbitrary bytes and walk everything that was accepted.
//
// Only strata::Error may come out of the reader; anything else (a crash, a sanitizer report, a
// std::bad_alloc, another exception, a broken invariant below) is a finding.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"

namespace {

using strata::gguf::GgufFile;
using strata::gguf::Value;
using strata::gguf::ValueType;

// Keeps the optimizer from dropping reads.
volatile uint64_t g_sink;

void check(bool ok) {
  if (!ok) std::abort();
}

// Runs an accessor that may refuse (a lossy conversion): only strata::Error may come out.
template <typename F>
void try_access(F&& f) {
  try {
    f();
  } catch (const strata::Error&) {
  }
}

// Runs an accessor that must refuse (a type mismatch or an index out of range).
template <typename F>
void must_refuse(F&& f) {
  try {
    f();
  } catch (const strata::Error&) {
    return;
  }
  std::abort();
}

// Reads every element with the accessors that fit its type; one mismatch per value checks that
// refusing works too. (Expected refusals are kept few: exceptions are slow, and speed is coverage.)
void walk(const Value& v) {
  uint64_t acc = v.size() + static_cast<uint32_t>(v.type());
  acc += v.to_display(8).size();
  if (!v.is_array()) {
    switch (v.type()) {
      case ValueType::STRING:
        acc += v.as_string().size();
        must_refuse([&] { (void)v.as_u64(); });
        break;
      case ValueType::BOOL:
        acc += v.as_bool() + v.as_u32();
        must_refuse([&] { (void)v.as_f64(); });
        break;
      case ValueType::F32:
      case ValueType::F64:
        acc += static_cast<uint64_t>(v.as_f64() != 0);
        try_access([&] { acc += static_cast<uint64_t>(v.as_f32() != 0); });
        must_refuse([&] { (void)v.as_i64(); });
        break;
      default:  // integers
        try_access([&] { acc += v.as_u64(); });
        try_access([&] { acc += static_cast<uint64_t>(v.as_i64()); });
        try_access([&] { acc += v.as_u32(); });
        try_access([&] { acc += static_cast<uint64_t>(v.as_i32()); });
        try_access([&] { acc += static_cast<uint64_t>(v.as_f32() != 0); });
        must_refuse([&] { (void)v.as_string(); });
        break;
    }
    must_refuse([&] { (void)v.array_type(); });
    g_sink = acc;
    return;
  }
  const ValueType et = v.array_type();
  const size_t n = v.size();
  if (et == ValueType::STRING) {
    const auto all = v.strings();
    check(all.size() == n);
    for (size_t i = 0; i < n; ++i) {
      check(v.string_at(i) == all[i]);
      acc += all[i].size() ? static_cast<uint8_t>(all[i].back()) : 0;
    }
    must_refuse([&] { (void)v.to_f32_vector(); });
  } else if (et == ValueType::ARRAY) {
    for (size_t i = 0; i < n; ++i) walk(v.array_at(i));
    must_refuse([&] { (void)v.i64_at(0); });
  } else if (et == ValueType::BOOL) {
    for (size_t i = 0; i < n; ++i) acc += v.bool_at(i) + v.i64_at(i);
    acc += v.to_i32_vector().size();
    must_refuse([&] { (void)v.f64_at(0); });
  } else {
    check(v.raw_bytes().size() == n * strata::gguf::value_type_size(et));
    const bool integer = strata::gguf::is_integer_type(et);
    for (size_t i = 0; i < n; ++i) {
      if (integer) try_access([&] { acc += static_cast<uint64_t>(v.i64_at(i)); });
      else acc += static_cast<uint64_t>(v.f64_at(i) != 0);
    }
    try_access([&] { acc += v.to_f32_vector().size(); });
    if (integer) {
      try_access([&] { acc += v.to_i32_vector().size(); });
      try_access([&] { acc += v.to_u32_vector().size(); });
    }
    must_refuse([&] { (void)v.string_at(0); });
  }
  must_refuse([&] { (void)v.as_string(); });
  g_sink = acc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const GgufFile f = GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz-input");
    check(f.version() == 2 || f.version() == 3);
    check(f.alignment() != 0 && (f.alignment() & (f.alignment() - 1)) == 0);
    check(f.file_size() == size);
    for (const auto& [key, value] : f.metadata()) {
      check(f.find(key) != nullptr);
      walk(value);
    }
    for (const auto& t : f.tensors()) {
      check(f.find_tensor(t.name) == &t);
      check(!t.dims.empty() && t.dims.size() <= 4);
      check(t.offset % f.alignment() == 0 && t.offset >= f.data_offset());
      check(t.offset <= size && t.bytes <= size - t.offset);
      check(t.data == data + t.offset);
      check(t.n_elements() > 0);
      uint64_t sum = 0;
      for (uint8_t b : t.span()) sum += b;
      g_sink = sum;
    }
  } catch (const strata::Error&) {
  }
  return 0;
}
