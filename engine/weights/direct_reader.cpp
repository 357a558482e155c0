#include "engine/weights/direct_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/core/error.h"

namespace strata {

DirectReader::DirectReader(const std::filesystem::path& path) : path_(path.string()) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  if (fd_ < 0 && errno == EINVAL) {  // the filesystem has no O_DIRECT
    direct_ = false;
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd_ < 0)
    throw ModelFileError(path_, "weights", ModelFileError::kNoOffset,
                         std::string("cannot open the file to read SSD-tier weights: ") + std::strerror(errno));
}

std::unique_ptr<DirectReader> DirectReader::temporary(const std::filesystem::path& dir) {
  bool direct = true;
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC | O_DIRECT, 0600);
  if (fd < 0 && errno == EINVAL) {
    direct = false;
    fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  }
  if (fd < 0)
    throw Error(ErrorKind::Io, dir.string() + ": cannot create the spill file for compressed SSD-tier weights: " +
                                   std::strerror(errno));
  return std::unique_ptr<DirectReader>(new DirectReader(fd, dir.string() + "/(spill file)", direct));
}

void DirectReader::write(uint64_t offset, const uint8_t* src, uint64_t bytes) const {
  for (uint64_t done = 0; done < bytes;) {
    const ssize_t n = ::pwrite(fd_, src + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw Error(ErrorKind::Io, path_ + ": writing " + std::to_string(bytes) + " bytes at offset " + std::to_string(offset) +
                                     " failed: " + std::strerror(errno));
    done += static_cast<uint64_t>(n);
  }
  if (!direct_) {  // dirty pages cannot be dropped before they are written back
    ::fdatasync(fd_);
    ::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(bytes), POSIX_FADV_DONTNEED);
  }
}

DirectReader::~DirectReader() {
  if (fd_ >= 0) ::close(fd_);
}

const uint8_t* DirectReader::read(uint64_t offset, uint64_t len, uint8_t* dst) const {
  const uint64_t start = aligned_start(offset);
  const uint64_t want_end = offset + len;  // the bytes that must exist
  const uint64_t total = aligned_bytes(offset, len);
  uint64_t done = 0;
  while (done < total && start + done < want_end) {
    const ssize_t n = ::pread(fd_, dst + done, total - done, static_cast<off_t>(start + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::Io, path_ + ": reading " + std::to_string(total) + " bytes at offset " + std::to_string(start) +
                                     " for SSD-tier weights failed: " + std::strerror(errno));
    }
    done += static_cast<uint64_t>(n);
    // A short read is the end of the file (the aligned range may pass it, which is fine once the
    // wanted bytes are in) or a read split by the kernel (over 2 GiB): the file size tells which.
    if (n == 0 || (static_cast<uint64_t>(n) < total - (done - n) && start + done < want_end)) {
      struct stat st {};
      const long long size = ::fstat(fd_, &st) == 0 ? static_cast<long long>(st.st_size) : -1;
      if (n > 0 && size >= static_cast<long long>(want_end)) continue;
      throw ModelFileError(path_, "tensor data", offset,
                           "the file ends at byte " + std::to_string(size) + " but SSD-tier weights need bytes up to " +
                               std::to_string(want_end) + ": it was truncated or replaced after the model was loaded");
    }
  }
  if (!direct_) ::posix_fadvise(fd_, static_cast<off_t>(start), static_cast<off_t>(total), POSIX_FADV_DONTNEED);
  return dst + (offset - start);
}

void DirectReader::drop_cache() const {
  // Dirty pages (a file just written, e.g. synthesized) cannot be dropped until written back.
  ::fdatasync(fd_);  // may fail on a read-only filesystem, which has no dirty pages anyway
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);
}

}  // namespace strata
