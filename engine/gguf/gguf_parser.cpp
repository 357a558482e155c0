#include "engine/gguf/gguf_parser.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>

#include "engine/core/error.h"
#include "engine/gguf/gguf_text.h"

namespace strata::gguf {
namespace {

using detail::quote_name;
using detail::ValueBuilder;

// The smallest encodings, used to refuse counts the rest of the file could not hold before
// anything is allocated for them.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;          // key length, 1-byte key, type, 1-byte value
constexpr uint64_t kMinTensorBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name length, 1-byte name, n_dims, 1 dim, type, offset
constexpr uint64_t kMaxKeyBytes = 65535;   // the GGUF spec's limit
// Elements held by arrays of arrays, over the whole file. Each costs a Value; real files hold none.
constexpr uint64_t kMaxNestedValues = uint64_t{1} << 20;

uint64_t min_element_bytes(ValueType t) {
  if (t == ValueType::STRING) return 8;       // the length
  if (t == ValueType::ARRAY) return 4 + 8;    // element type and count
  return value_type_size(t);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace

GgufParser::GgufParser(std::span<const uint8_t> bytes, std::string name)
    : data_(bytes.data()), size_(bytes.size()), name_(std::move(name)) {}

void GgufParser::fail(uint64_t at, const std::string& field, const std::string& what) const {
  throw ModelFileError(name_, field, at, what);
}

void GgufParser::need(uint64_t n, const std::string& field) const {
  if (left() < n)
    fail(pos_, field, "truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(left()) + " left");
}

template <typename T>
T GgufParser::read(const std::string& field) {
  need(sizeof(T), field);
  T v;
  std::memcpy(&v, data_ + pos_, sizeof(T));
  pos_ += sizeof(T);
  return v;
}

std::string_view GgufParser::read_string(const std::string& field, const char* what_length) {
  const uint64_t at = pos_;
  const uint64_t len = read<uint64_t>(field);
  if (len > left())
    fail(at, field, std::string(what_length) + " " + std::to_string(len) + " exceeds the " + std::to_string(left()) +
                        " bytes left in the file");
  std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
  pos_ += len;
  return s;
}

void GgufParser::check_count(uint64_t count, uint64_t min_bytes, uint64_t at, const std::string& field,
                             const char* noun) const {
  if (count > left() / min_bytes)
    fail(at, field, std::to_string(count) + " " + noun + " cannot fit in the " + std::to_string(left()) +
                        " bytes left in the file");
}

GgufFile GgufParser::run() {
  GgufFile f;
  f.path_ = name_;
  f.file_size_ = size_;
  read_header(f);
  read_metadata(f);
  check_keys(f);
  read_alignment(f);
  read_tensor_infos(f);
  check_tensors(f);
  return f;
}

// ---- header ----------------------------------------------------------------------------------

void GgufParser::read_header(GgufFile& f) {
  const uint32_t magic = read<uint32_t>("header.magic");
  if (magic != kGgufMagic) fail(0, "header.magic", "not a GGUF file (magic " + hex32(magic) + ", expected \"GGUF\")");

  const uint64_t version_at = pos_;
  const uint32_t version = read<uint32_t>("header.version");
  if (version == 1)
    fail(version_at, "header.version", "GGUF version 1 is not supported (this reader reads versions 2 and 3)");
  if (version == 0x02000000 || version == 0x03000000)
    fail(version_at, "header.version",
         "big-endian GGUF (version " + std::to_string(__builtin_bswap32(version)) + ") is not supported");
  if (version != 2 && version != 3)
    fail(version_at, "header.version",
         "unsupported GGUF version " + std::to_string(version) + " (this reader reads versions 2 and 3)");
  f.version_ = version;

  const uint64_t n_tensors_at = pos_;
  n_tensors_ = read<uint64_t>("header.n_tensors");
  const uint64_t n_kv_at = pos_;
  n_kv_ = read<uint64_t>("header.n_kv");
  // Both tables follow the header: each count must fit in what is left (the key-value pairs in
  // what the tensor table leaves, at its smallest).
  check_count(n_tensors_, kMinTensorBytes, n_tensors_at, "header.n_tensors", "tensors");
  if (n_kv_ > (left() - n_tensors_ * kMinTensorBytes) / kMinKvBytes)
    fail(n_kv_at, "header.n_kv",
         std::to_string(n_kv_) + " key-value pairs cannot fit in the " + std::to_string(left()) +
             " bytes left in the file");
}

// ---- metadata --------------------------------------------------------------------------------

void GgufParser::read_metadata(GgufFile& f) {
  f.metadata_.reserve(n_kv_);
  key_offsets_.reserve(n_kv_);
  value_offsets_.reserve(n_kv_);
  for (uint64_t i = 0; i < n_kv_; ++i) {
    const uint64_t key_at = pos_;
    const std::string key_field = "metadata[" + std::to_string(i) + "] key";
    const std::string_view key = read_string(key_field, "key length");
    if (key.empty()) fail(key_at, key_field, "empty key");
    if (key.size() > kMaxKeyBytes)
      fail(key_at, key_field, "key length " + std::to_string(key.size()) + " exceeds " + std::to_string(kMaxKeyBytes));
    if (!detail::is_valid_utf8(key)) fail(key_at, key_field, "key " + quote_name(key) + " is not valid UTF-8");

    const std::string field = "metadata[" + std::to_string(i) + "] " + quote_name(key);
    const uint64_t type_at = pos_;
    const uint32_t type_id = read<uint32_t>(field);
    const auto type = value_type_from_id(type_id);
    if (!type) fail(type_at, field, "unknown value type " + std::to_string(type_id));

    key_offsets_.push_back(key_at);
    value_offsets_.push_back(pos_);
    auto origin = std::make_shared<detail::ValueOrigin>(detail::ValueOrigin{name_, std::string(key), key_at});
    Value v = read_value(*type, 0, field, origin);
    f.metadata_.emplace_back(std::string(key), std::move(v));
  }
}

Value GgufParser::read_value(ValueType type, uint32_t depth, const std::string& field, const Origin& origin) {
  switch (type) {
    case ValueType::U8: case ValueType::I8:
      return ValueBuilder::scalar(type, read<uint8_t>(field), origin);
    case ValueType::U16: case ValueType::I16:
      return ValueBuilder::scalar(type, read<uint16_t>(field), origin);
    case ValueType::U32: case ValueType::I32: case ValueType::F32:
      return ValueBuilder::scalar(type, read<uint32_t>(field), origin);
    case ValueType::U64: case ValueType::I64: case ValueType::F64:
      return ValueBuilder::scalar(type, read<uint64_t>(field), origin);
    case ValueType::BOOL: {
      const uint64_t at = pos_;
      const uint8_t b = read<uint8_t>(field);
      if (b > 1) fail(at, field, "bool value " + std::to_string(b) + " is not 0 or 1");
      return ValueBuilder::scalar(type, b, origin);
    }
    case ValueType::STRING:
      return ValueBuilder::string(std::string(read_string(field, "string length")), origin);
    case ValueType::ARRAY:
      return read_array(depth + 1, field, origin);
  }
  fail(pos_, field, "unknown value type");  // unreachable: callers pass known types
}

// `depth` is this array's nesting level: 1 for an array that is a metadata value.
Value GgufParser::read_array(uint32_t depth, const std::string& field, const Origin& origin) {
  const uint64_t type_at = pos_;
  const uint32_t type_id = read<uint32_t>(field);
  const auto type = value_type_from_id(type_id);
  if (!type) fail(type_at, field, "unknown array element type " + std::to_string(type_id));
  if (*type == ValueType::ARRAY && depth >= kMaxArrayDepth)
    fail(type_at, field, "arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");

  const uint64_t count_at = pos_;
  const uint64_t count = read<uint64_t>(field);
  check_count(count, min_element_bytes(*type), count_at, field,
              (std::string("elements of ") + std::string(value_type_name(*type))).c_str());

  if (*type == ValueType::STRING) {
    std::string blob;
    std::vector<uint64_t> ends;
    ends.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t at = pos_;
      const uint64_t len = read<uint64_t>(field);
      if (len > left())
        fail(at, field, "element " + std::to_string(i) + ": string length " + std::to_string(len) + " exceeds the " +
                            std::to_string(left()) + " bytes left in the file");
      blob.append(reinterpret_cast<const char*>(data_ + pos_), len);
      pos_ += len;
      ends.push_back(blob.size());
    }
    return ValueBuilder::string_array(std::move(blob), std::move(ends), origin);
  }

  if (*type == ValueType::ARRAY) {
    if (count > kMaxNestedValues - nested_values_)
      fail(count_at, field, "more than " + std::to_string(kMaxNestedValues) + " elements in arrays of arrays");
    nested_values_ += count;
    std::vector<Value> items;
    items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) items.push_back(read_array(depth + 1, field, origin));
    return ValueBuilder::array_of_arrays(std::move(items), origin);
  }

  // Fixed-size elements: one copy of the raw bytes (the count was checked against the file).
  const uint64_t bytes = count * value_type_size(*type);
  const auto* p = data_ + pos_;
  if (*type == ValueType::BOOL)
    for (uint64_t i = 0; i < count; ++i)
      if (p[i] > 1)
        fail(pos_ + i, field, "element " + std::to_string(i) + ": bool value " + std::to_string(p[i]) + " is not 0 or 1");
  std::string raw(reinterpret_cast<const char*>(p), bytes);
  pos_ += bytes;
  return ValueBuilder::raw_array(*type, count, std::move(raw), origin);
}

void GgufParser::check_keys(GgufFile& f) {
  auto& order = f.key_order_;
  order.resize(f.metadata_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& ka = f.metadata_[a].first;
    const auto& kb = f.metadata_[b].first;
    return ka != kb ? ka < kb : a < b;
  });
  // Report the earliest second occurrence, naming the first.
  size_t dup = SIZE_MAX, first = 0;
  for (size_t k = 1; k < order.size(); ++k)
    if (f.metadata_[order[k]].first == f.metadata_[order[k - 1]].first && order[k] < dup) {
      dup = order[k];
      first = order[k - 1];
    }
  if (dup != SIZE_MAX)
    fail(key_offsets_[dup], "metadata[" + std::to_string(dup) + "] " + quote_name(f.metadata_[dup].first),
         "duplicate key (first defined by metadata[" + std::to_string(first) + "])");
}

void GgufParser::read_alignment(GgufFile& f) {
  for (size_t i = 0; i < f.metadata_.size(); ++i) {
    const auto& [key, v] = f.metadata_[i];
    if (key != "general.alignment") continue;
    const std::string field = "metadata[" + std::to_string(i) + "] 'general.alignment'";
    if (v.type() != ValueType::U32)
      fail(value_offsets_[i], field,
           "general.alignment must be a u32, not " +
               (v.is_array() ? "an array" : std::string(value_type_name(v.type()))));
    const uint32_t a = v.as_u32();
    if (!std::has_single_bit(a))
      fail(value_offsets_[i], field, "alignment " + std::to_string(a) + " is not a power of two");
    f.alignment_ = a;
  }
}

// ---- tensors ---------------------------------------------------------------------------------

void GgufParser::read_tensor_infos(GgufFile& f) {
  f.tensors_.reserve(n_tensors_);
  name_offsets_.reserve(n_tensors_);
  offset_offsets_.reserve(n_tensors_);
  for (uint64_t i = 0; i < n_tensors_; ++i) {
    TensorInfo t;
    const uint64_t name_at = pos_;
    const std::string name_field = "tensor[" + std::to_string(i) + "] name";
    const std::string_view name = read_string(name_field, "name length");
    if (name.empty()) fail(name_at, name_field, "empty tensor name");
    if (!detail::is_valid_utf8(name)) fail(name_at, name_field, "tensor name " + quote_name(name) + " is not valid UTF-8");
    t.name = std::string(name);
    const std::string tf = "tensor " + quote_name(name);

    const uint64_t n_dims_at = pos_;
    const uint32_t n_dims = read<uint32_t>(tf + " n_dims");
    if (n_dims == 0 || n_dims > kMaxDims)
      fail(n_dims_at, tf + " n_dims", "n_dims " + std::to_string(n_dims) + " is not in 1.." + std::to_string(kMaxDims));

    const std::string dims_field = tf + " dims";
    const uint64_t dims_at = pos_;
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t at = pos_;
      const uint64_t raw = read<uint64_t>(dims_field);
      const auto dim = static_cast<int64_t>(raw);
      if (dim <= 0) fail(at, dims_field, "dims[" + std::to_string(d) + "] = " + std::to_string(dim) + " is not positive");
      if (__builtin_mul_overflow(n_elements, raw, &n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(at, dims_field, "element count overflows 64 bits");
      t.dims.push_back(dim);
    }

    const uint64_t type_at = pos_;
    const uint32_t type_id = read<uint32_t>(tf + " type");
    const auto traits = tensor_type_traits(type_id);
    if (!traits) fail(type_at, tf + " type", "unknown tensor type " + std::to_string(type_id));
    t.type = traits->type;
    const auto row = static_cast<uint64_t>(t.dims[0]);
    if (row % traits->block_elems != 0)
      fail(dims_at, dims_field,
           "row length " + std::to_string(row) + " is not a multiple of the block size " +
               std::to_string(traits->block_elems) + " of " + std::string(traits->name));
    uint64_t row_bytes;
    if (__builtin_mul_overflow(row / traits->block_elems, uint64_t{traits->block_bytes}, &row_bytes) ||
        __builtin_mul_overflow(row_bytes, n_elements / row, &t.bytes))
      fail(dims_at, dims_field, "byte size overflows 64 bits");

    const uint64_t offset_at = pos_;
    t.offset = read<uint64_t>(tf + " offset");  // relative to the data section until check_tensors
    if (t.offset % f.alignment_ != 0)
      fail(offset_at, tf + " offset",
           "data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
               std::to_string(f.alignment_));

    name_offsets_.push_back(name_at);
    offset_offsets_.push_back(offset_at);
    f.tensors_.push_back(std::move(t));
  }
}

void GgufParser::check_tensors(GgufFile& f) {
  // The data section starts at the next multiple of the alignment (alignment <= 2^31, so this
  // cannot overflow). A file without tensors may end before it.
  f.data_offset_ = (pos_ + f.alignment_ - 1) / f.alignment_ * f.alignment_;

  auto& ts = f.tensors_;
  for (size_t i = 0; i < ts.size(); ++i) {
    auto& t = ts[i];
    const uint64_t rel = t.offset;
    uint64_t begin, end;
    if (__builtin_add_overflow(f.data_offset_, rel, &begin) || __builtin_add_overflow(begin, t.bytes, &end) ||
        end > size_)
      fail(offset_offsets_[i], "tensor " + quote_name(t.name) + " offset",
           "data at offset " + std::to_string(rel) + " of the data section (byte " + std::to_string(f.data_offset_) +
               "), " + std::to_string(t.bytes) + " bytes long, is outside the file (size " + std::to_string(size_) + ")");
    t.offset = begin;
    t.data = data_ + begin;
  }

  // Duplicate names: report the earliest second occurrence.
  auto& order = f.tensor_order_;
  order.resize(ts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return ts[a].name != ts[b].name ? ts[a].name < ts[b].name : a < b;
  });
  size_t dup = SIZE_MAX, first = 0;
  for (size_t k = 1; k < order.size(); ++k)
    if (ts[order[k]].name == ts[order[k - 1]].name && order[k] < dup) {
      dup = order[k];
      first = order[k - 1];
    }
  if (dup != SIZE_MAX)
    fail(name_offsets_[dup], "tensor " + quote_name(ts[dup].name),
         "duplicate tensor name (first defined by tensor[" + std::to_string(first) + "])");

  // Overlaps: sorted by start, any overlap shows between neighbours. Blame the later tensor info.
  std::vector<size_t> by_offset(ts.size());
  for (size_t i = 0; i < by_offset.size(); ++i) by_offset[i] = i;
  std::sort(by_offset.begin(), by_offset.end(), [&](size_t a, size_t b) {
    return ts[a].offset != ts[b].offset ? ts[a].offset < ts[b].offset : a < b;
  });
  size_t bad = SIZE_MAX, other = 0;
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const auto& p = ts[by_offset[k - 1]];
    const auto& c = ts[by_offset[k]];
    if (p.offset + p.bytes > c.offset) {
      const size_t later = std::max(by_offset[k - 1], by_offset[k]);
      if (later < bad) {
        bad = later;
        other = std::min(by_offset[k - 1], by_offset[k]);
      }
    }
  }
  if (bad != SIZE_MAX) {
    const auto& b = ts[bad];
    const auto& o = ts[other];
    fail(offset_offsets_[bad], "tensor " + quote_name(b.name) + " offset",
         "data [" + std::to_string(b.offset) + ", " + std::to_string(b.offset + b.bytes) + ") overlaps tensor " +
             quote_name(o.name) + " [" + std::to_string(o.offset) + ", " + std::to_string(o.offset + o.bytes) + ")");
  }
}

}  // namespace strata::gguf
