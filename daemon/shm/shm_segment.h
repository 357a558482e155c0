// One POSIX shared-memory segment of a channel (Boost.Interprocess shared_memory_object): created
// with O_EXCL and mode 0600 under an unguessable name, sized, and given to the client's uid when
// the daemon may (root). The name is removed when the segment is destroyed.
//
// The daemon reads and writes the segment with pread/pwrite on its descriptor instead of mapping
// it: the client holds a read-write descriptor too and may shrink the segment at any moment, and
// touching a mapping past the end of its file raises SIGBUS in the daemon. A system call instead
// returns a short count, which becomes an error for that one request.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace strata::daemon {

class ShmSegment {
 public:
  // Creates the segment `name` (no leading '/') of `size` bytes. owner_uid: chown'ed to it when
  // the daemon runs as root, else the segment stays the daemon's (see docs/protocol.md). Throws
  // std::runtime_error naming the segment and the cause.
  ShmSegment(std::string name, uint64_t size, uint32_t owner_uid);
  ~ShmSegment();  // unmaps nothing (nothing is mapped), closes the descriptor, removes the name
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  const std::string& name() const { return name_; }
  uint64_t size() const { return size_; }
  int fd() const;

  // Copies [offset, offset + out.size()) out of / into the segment. The caller checked the range
  // against size(); false when the segment was shrunk under us (short read or write) or on error.
  bool read(uint64_t offset, std::span<char> out) const;
  bool write(uint64_t offset, std::span<const char> data) const;

  // Removes a segment by name (no leading '/'), ignoring a missing one.
  static void remove(const std::string& name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string name_;
  uint64_t size_;
};

}  // namespace strata::daemon
