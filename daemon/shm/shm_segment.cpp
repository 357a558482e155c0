#include "daemon/shm/shm_segment.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace strata::daemon {

namespace bip = boost::interprocess;

struct ShmSegment::Impl {
  bip::shared_memory_object object;
};

ShmSegment::ShmSegment(std::string name, uint64_t size, uint32_t owner_uid)
    : impl_(std::make_unique<Impl>()), name_(std::move(name)), size_(size) {
  try {
    // create_only is shm_open(O_CREAT | O_EXCL): an existing name is never reused or followed.
    bip::permissions owner_only(0600);
    impl_->object = bip::shared_memory_object(bip::create_only, name_.c_str(), bip::read_write, owner_only);
  } catch (const bip::interprocess_exception& e) {
    throw std::runtime_error("cannot create shared memory segment " + name_ + ": " + e.what());
  }
  try {
    impl_->object.truncate(static_cast<bip::offset_t>(size));
  } catch (const bip::interprocess_exception& e) {
    remove(name_);
    throw std::runtime_error("cannot size shared memory segment " + name_ + " to " + std::to_string(size) +
                             " bytes: " + e.what());
  }
  // Root (the system service started as root, or tests) gives the segment to the client, so that
  // /dev/shm accounting and `ls -l` show whose it is. A non-root daemon cannot and need not: the
  // client reaches the segment through the descriptor passed to it, never by its name.
  if (::geteuid() == 0 && owner_uid != 0 && ::fchown(fd(), owner_uid, static_cast<gid_t>(-1)) != 0) {
    const int e = errno;
    remove(name_);
    throw std::runtime_error("cannot give shared memory segment " + name_ + " to uid " + std::to_string(owner_uid) +
                             ": " + std::strerror(e));
  }
}

ShmSegment::~ShmSegment() { remove(name_); }

int ShmSegment::fd() const { return impl_->object.get_mapping_handle().handle; }

bool ShmSegment::read(uint64_t offset, std::span<char> out) const {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool ShmSegment::write(uint64_t offset, std::span<const char> data) const {
  // A segment the client shrank would grow back under pwrite: refuse instead, so that the
  // daemon never allocates beyond what the channel was opened with.
  struct stat st {};
  if (::fstat(fd(), &st) != 0 || static_cast<uint64_t>(st.st_size) < offset + data.size()) return false;
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd(), data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void ShmSegment::remove(const std::string& name) { bip::shared_memory_object::remove(name.c_str()); }

}  // namespace strata::daemon
