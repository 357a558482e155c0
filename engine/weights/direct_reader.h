// Reads byte ranges of a file around the page cache: O_DIRECT, so that weights on the SSD tier
// are not silently kept in RAM by the kernel. O_DIRECT needs the file offset, the length and
// the destination aligned (to the logical block size; we use 4096), while GGUF tensor offsets
// are only 32-byte aligned: a read fetches the aligned range enclosing the wanted bytes.
//
// Where the filesystem refuses O_DIRECT (tmpfs, some network filesystems), the reader falls
// back to buffered reads followed by POSIX_FADV_DONTNEED on the range, and says so (direct()).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace strata {

class DirectReader {
 public:
  static constexpr uint64_t kAlign = 4096;

  // Opens `path`; throws ModelFileError (cannot open) when it is missing or unreadable.
  explicit DirectReader(const std::filesystem::path& path);
  // An unnamed temporary file in `dir` (O_TMPFILE: gone when closed), for data the store
  // writes itself (compressed SSD-tier layers). Throws Error(Io) when it cannot be made.
  static std::unique_ptr<DirectReader> temporary(const std::filesystem::path& dir);
  DirectReader(const DirectReader&) = delete;
  DirectReader& operator=(const DirectReader&) = delete;
  ~DirectReader();

  // The aligned range enclosing [offset, offset + len): where it starts and how many bytes a
  // destination needs.
  static uint64_t aligned_start(uint64_t offset) { return offset / kAlign * kAlign; }
  static uint64_t aligned_bytes(uint64_t offset, uint64_t len) {
    return (offset + len + kAlign - 1) / kAlign * kAlign - aligned_start(offset);
  }

  // Reads the aligned range enclosing [offset, offset + len) into `dst` (kAlign-aligned, at
  // least aligned_bytes(offset, len) long) and returns the address of byte `offset` in it.
  // Throws ModelFileError naming the file when it ends before offset + len (truncated) and
  // Error(Io) for a failing read.
  const uint8_t* read(uint64_t offset, uint64_t len, uint8_t* dst) const;

  // Writes `bytes` at `offset` (both multiples of kAlign, `src` aligned). Temporary files only.
  void write(uint64_t offset, const uint8_t* src, uint64_t bytes) const;

  // Writes back and drops the file's pages from the page cache (those not mapped in), e.g.
  // after loading.
  void drop_cache() const;

  bool direct() const { return direct_; }
  const std::string& path() const { return path_; }

 private:
  DirectReader(int fd, std::string name, bool direct) : path_(std::move(name)), fd_(fd), direct_(direct) {}
  std::string path_;
  int fd_ = -1;
  bool direct_ = true;
};

}  // namespace strata
