#include "engine/gguf/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_text.h"
#include "engine/gguf/gguf_value_detail.h"

namespace strata::gguf {
namespace {

using detail::quote_name;

[[noreturn]] void invalid(const std::string& what) { throw Error(ErrorKind::InvalidArgument, "GgufWriter: " + what); }

// Buffered output to a temporary file beside the destination, renamed over it by commit().
class AtomicFileOut {
 public:
  explicit AtomicFileOut(const std::filesystem::path& path) : path_(path) {
    static std::atomic<unsigned> counter{0};
    tmp_ = path;
    tmp_ += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) io_error("cannot create", tmp_);
    buf_.reserve(kBufferBytes);
  }
  ~AtomicFileOut() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
    }
  }
  AtomicFileOut(const AtomicFileOut&) = delete;
  AtomicFileOut& operator=(const AtomicFileOut&) = delete;

  uint64_t pos() const { return pos_; }

  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    pos_ += n;
    if (buf_.size() + n > kBufferBytes) flush();
    if (n >= kBufferBytes) {
      write_all(b, n);
      return;
    }
    buf_.insert(buf_.end(), b, b + n);
  }
  template <typename T>
  void pod(T v) { bytes(&v, sizeof v); }
  void str(std::string_view s) {
    pod<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    static constexpr uint8_t kZeros[256] = {};
    uint64_t n = (alignment - pos_ % alignment) % alignment;
    while (n > 0) {
      const size_t k = n < sizeof kZeros ? n : sizeof kZeros;
      bytes(kZeros, k);
      n -= k;
    }
  }

  void commit() {
    flush();
    if (::fsync(fd_) != 0) io_error("cannot sync", tmp_);
    if (::close(fd_) != 0) {
      fd_ = -1;
      ::unlink(tmp_.c_str());
      io_error("cannot close", tmp_);
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp_.c_str());
      errno = err;
      io_error("cannot rename to", path_);
    }
  }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 20;

  [[noreturn]] static void io_error(const char* what, const std::filesystem::path& p) {
    throw Error(ErrorKind::Io, p.string() + ": " + what + ": " + std::strerror(errno));
  }
  void flush() {
    write_all(buf_.data(), buf_.size());
    buf_.clear();
  }
  void write_all(const uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t k = ::write(fd_, p, n);
      if (k < 0) {
        if (errno == EINTR) continue;
        io_error("cannot write", tmp_);
      }
      p += k;
      n -= static_cast<size_t>(k);
    }
  }

  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  uint64_t pos_ = 0;
  std::vector<uint8_t> buf_;
};

// An array's element type, count and elements (the ARRAY type id itself is written by the caller).
void write_array_body(AtomicFileOut& out, const Value& v) {
  const ValueType et = v.array_type();
  out.pod<uint32_t>(static_cast<uint32_t>(et));
  out.pod<uint64_t>(v.size());
  if (et == ValueType::STRING) {
    for (size_t i = 0; i < v.size(); ++i) out.str(v.string_at(i));
  } else if (et == ValueType::ARRAY) {
    for (size_t i = 0; i < v.size(); ++i) write_array_body(out, v.array_at(i));
  } else {
    const auto raw = v.raw_bytes();
    out.bytes(raw.data(), raw.size());
  }
}

void write_value(AtomicFileOut& out, const Value& v) {
  out.pod<uint32_t>(static_cast<uint32_t>(v.type()));
  if (v.type() == ValueType::STRING) {
    out.str(v.as_string());
  } else if (v.is_array()) {
    write_array_body(out, v);
  } else {
    const uint64_t bits = detail::ValueBuilder::scalar_bits(v);
    out.bytes(&bits, value_type_size(v.type()));  // little-endian: the low bytes first
  }
}

void check_alignment_value(const Value& v) {
  if (v.type() != ValueType::U32) invalid("general.alignment must be a u32");
  if (!std::has_single_bit(v.as_u32()))
    invalid("general.alignment " + std::to_string(v.as_u32()) + " is not a power of two");
}

}  // namespace

// ---- metadata --------------------------------------------------------------------------------

void GgufWriter::set(std::string_view key, Value value) {
  if (key.empty()) invalid("empty metadata key");
  if (key.size() > 65535) invalid("metadata key longer than 65535 bytes");
  if (!detail::is_valid_utf8(key)) invalid("metadata key " + quote_name(key) + " is not valid UTF-8");
  if (key == "general.alignment") check_alignment_value(value);
  for (auto& [k, v] : metadata_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata_.emplace_back(std::string(key), std::move(value));
}

bool GgufWriter::remove(std::string_view key) {
  for (auto it = metadata_.begin(); it != metadata_.end(); ++it)
    if (it->first == key) {
      metadata_.erase(it);
      return true;
    }
  return false;
}

const Value* GgufWriter::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_)
    if (k == key) return &v;
  return nullptr;
}

uint64_t GgufWriter::alignment() const {
  const Value* v = find("general.alignment");
  return v ? v->as_u32() : kDefaultAlignment;
}

// ---- tensors ---------------------------------------------------------------------------------

uint64_t GgufWriter::check_tensor(const std::string& name, const std::vector<int64_t>& dims, TensorType type) const {
  if (name.empty()) invalid("empty tensor name");
  if (name.size() > kMaxTensorNameBytes)
    invalid("tensor name " + quote_name(name) + " is longer than " + std::to_string(kMaxTensorNameBytes) + " bytes");
  if (!detail::is_valid_utf8(name)) invalid("tensor name " + quote_name(name) + " is not valid UTF-8");
  if (tensor_names_.contains(name)) invalid("duplicate tensor name " + quote_name(name));
  if (dims.empty() || dims.size() > kMaxDims)
    invalid("tensor " + quote_name(name) + ": " + std::to_string(dims.size()) + " dims, expected 1.." +
            std::to_string(kMaxDims));
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d <= 0) invalid("tensor " + quote_name(name) + ": dimension " + std::to_string(d) + " is not positive");
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n) || n > uint64_t{INT64_MAX})
      invalid("tensor " + quote_name(name) + ": element count overflows");
  }
  const auto& traits = traits_of(type);
  const auto row = static_cast<uint64_t>(dims[0]);
  if (row % traits.block_elems != 0)
    invalid("tensor " + quote_name(name) + ": row length " + std::to_string(row) + " is not a multiple of the block size " +
            std::to_string(traits.block_elems) + " of " + std::string(traits.name));
  uint64_t row_bytes, bytes;
  if (__builtin_mul_overflow(row / traits.block_elems, uint64_t{traits.block_bytes}, &row_bytes) ||
      __builtin_mul_overflow(row_bytes, n / row, &bytes))
    invalid("tensor " + quote_name(name) + ": byte size overflows");
  return bytes;
}

void GgufWriter::add_tensor(std::string name, std::vector<int64_t> dims, TensorType type, std::vector<uint8_t> data) {
  const uint64_t bytes = check_tensor(name, dims, type);
  if (data.size() != bytes)
    invalid("tensor " + quote_name(name) + ": " + std::to_string(data.size()) + " bytes of data, expected " +
            std::to_string(bytes));
  tensor_names_.insert(name);
  tensors_.push_back(Tensor{std::move(name), std::move(dims), type, bytes, std::move(data), {}, {}});
}

void GgufWriter::add_tensor_view(std::string name, std::vector<int64_t> dims, TensorType type,
                                 std::span<const uint8_t> data) {
  const uint64_t bytes = check_tensor(name, dims, type);
  if (data.size() != bytes)
    invalid("tensor " + quote_name(name) + ": " + std::to_string(data.size()) + " bytes of data, expected " +
            std::to_string(bytes));
  tensor_names_.insert(name);
  tensors_.push_back(Tensor{std::move(name), std::move(dims), type, bytes, {}, data, {}});
}

void GgufWriter::add_tensor_stream(std::string name, std::vector<int64_t> dims, TensorType type, DataSource source) {
  const uint64_t bytes = check_tensor(name, dims, type);
  if (!source) invalid("tensor " + quote_name(name) + ": empty data source");
  tensor_names_.insert(name);
  tensors_.push_back(Tensor{std::move(name), std::move(dims), type, bytes, {}, {}, std::move(source)});
}

// ---- writing ---------------------------------------------------------------------------------

uint64_t GgufWriter::write(const std::filesystem::path& path) const {
  const uint64_t align = alignment();
  AtomicFileOut out(path);

  out.pod<uint32_t>(kGgufMagic);
  out.pod<uint32_t>(3);
  out.pod<uint64_t>(tensors_.size());
  out.pod<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    out.str(key);
    write_value(out, value);
  }

  // Offsets relative to the data section, each tensor starting at a multiple of the alignment
  // right after the previous one (llama.cpp requires exactly this packing).
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    out.str(t.name);
    out.pod<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) out.pod<uint64_t>(static_cast<uint64_t>(d));
    out.pod<uint32_t>(static_cast<uint32_t>(t.type));
    out.pod<uint64_t>(offset);
    offset += (t.bytes + align - 1) / align * align;
  }
  out.pad_to(align);

  for (const auto& t : tensors_) {
    if (t.source) {
      uint64_t written = 0;
      t.source([&](std::span<const uint8_t> chunk) {
        if (chunk.size() > t.bytes - written)
          invalid("tensor " + quote_name(t.name) + ": the data source wrote more than " + std::to_string(t.bytes) +
                  " bytes");
        out.bytes(chunk.data(), chunk.size());
        written += chunk.size();
      });
      if (written != t.bytes)
        invalid("tensor " + quote_name(t.name) + ": the data source wrote " + std::to_string(written) + " bytes, expected " +
                std::to_string(t.bytes));
    } else {
      const std::span<const uint8_t> data = t.owned.empty() ? t.view : std::span<const uint8_t>(t.owned);
      out.bytes(data.data(), data.size());
    }
    out.pad_to(align);
  }
  const uint64_t size = out.pos();
  out.commit();
  return size;
}

}  // namespace strata::gguf
