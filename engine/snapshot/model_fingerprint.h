// A model's identity for snapshots: XXH3-128 over the whole GGUF file (header, metadata, tensor
// table and tensor data), so any change to weights or to metadata that shapes the KV (RoPE,
// heads, layers) gives another fingerprint and old snapshots are never loaded into it.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace strata::snapshot {

struct ModelFingerprint {
  std::array<uint8_t, 16> bytes{};

  std::string hex() const;
  static std::optional<ModelFingerprint> from_hex(std::string_view hex);
  bool operator==(const ModelFingerprint&) const = default;
};

// Hashes the file through a read-only mapping. Throws Error(Io) when it cannot be read.
ModelFingerprint fingerprint_model_file(const std::filesystem::path& path);

// What identifies a file's version cheaply (for caching fingerprints): size, modification time
// in nanoseconds, inode. Throws Error(Io) when the file cannot be stat'ed.
struct FileIdentity {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  bool operator==(const FileIdentity&) const = default;
};
FileIdentity file_identity(const std::filesystem::path& path);

// Lowercase hex of bytes, and back (nullopt when `hex` is not 2*N hex digits).
std::string to_hex(const uint8_t* bytes, size_t n);
bool from_hex(std::string_view hex, uint8_t* out, size_t n);

}  // namespace strata::snapshot
