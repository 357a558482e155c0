#include "engine/snapshot/model_fingerprint.h"

#include <sys/stat.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>

#include "engine/core/error.h"
#include "engine/gguf/mapped_file.h"

namespace strata::snapshot {

std::string to_hex(const uint8_t* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

bool from_hex(std::string_view hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < n; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string ModelFingerprint::hex() const { return to_hex(bytes.data(), bytes.size()); }

std::optional<ModelFingerprint> ModelFingerprint::from_hex(std::string_view hex) {
  ModelFingerprint f;
  if (!snapshot::from_hex(hex, f.bytes.data(), f.bytes.size())) return std::nullopt;
  return f;
}

ModelFingerprint fingerprint_model_file(const std::filesystem::path& path) {
  const auto file = gguf::MappedFile::open(path);
  const auto bytes = file.bytes();
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, h);
  ModelFingerprint f;
  std::memcpy(f.bytes.data(), canon.digest, f.bytes.size());
  return f;
}

FileIdentity file_identity(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(ErrorKind::Io, path.string() + ": cannot stat: " + std::strerror(errno));
  return {static_cast<uint64_t>(st.st_size), int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<uint64_t>(st.st_ino)};
}

}  // namespace strata::snapshot
