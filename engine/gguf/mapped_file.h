// A read-only, private memory mapping of a whole file. Move-only; unmapped on destruction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace strata::gguf {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps `path` (PROT_READ, MAP_PRIVATE). Throws strata::Error(ErrorKind::Io) when the file cannot
  // be opened, is not a regular file, or cannot be mapped. An empty file gives an empty mapping.
  static MappedFile open(const std::filesystem::path& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

 private:
  void reset() noexcept;

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace strata::gguf
