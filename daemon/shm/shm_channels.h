// The shared-memory channels clients have open (POST /strata/v1/shm): who owns each, on which
// connection, and its segment. A channel is usable only by the uid and the connection that opened
// it, and lives until that connection closes, the client deletes it, or the daemon stops. I/O
// thread only.
//
// Segment names are "strata-<instance>-<id>": <instance> is 16 hex digits of a hash of the
// daemon's state directory, so a daemon at start-up removes what an earlier run of itself left
// (after a crash) without touching the segments of another daemon on the same machine (a user
// instance beside the system service, or parallel tests); <id> is the channel id, 128 bits from
// the kernel's CSPRNG.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "daemon/shm/shm_segment.h"

namespace strata::daemon {

struct ShmChannel {
  std::string id;  // 32 lowercase hex digits
  uint32_t uid = 0;
  uint64_t connection = 0;
  std::shared_ptr<ShmSegment> segment;  // a request using the channel holds it until it ends
};

class ShmChannels {
 public:
  // `instance`: the state directory (any string naming this daemon instance).
  explicit ShmChannels(const std::string& instance);
  ~ShmChannels();  // removes every segment's name
  ShmChannels(const ShmChannels&) = delete;
  ShmChannels& operator=(const ShmChannels&) = delete;

  // "strata-<instance>-": the names of this daemon's segments start with it.
  const std::string& prefix() const { return prefix_; }
  // Removes segments whose names start with prefix() (left by an earlier run); returns how many.
  size_t remove_stale() const;

  // Creates a channel of `size` bytes. Throws std::runtime_error when the segment cannot be made.
  std::shared_ptr<const ShmChannel> open(uint32_t uid, uint64_t connection, uint64_t size);
  // The channel when it exists, belongs to `uid` and was opened on `connection`; else null.
  std::shared_ptr<const ShmChannel> find(const std::string& id, uint32_t uid, uint64_t connection) const;
  // Removes the channel (same conditions as find); false when there is none.
  bool close(const std::string& id, uint32_t uid, uint64_t connection);
  // Removes every channel opened on `connection` (it closed).
  void close_connection(uint64_t connection);

  int64_t count_for(uint32_t uid) const;
  int64_t count() const { return static_cast<int64_t>(channels_.size()); }
  uint64_t bytes() const;  // segment sizes, all channels together

 private:
  std::string prefix_;
  std::map<std::string, std::shared_ptr<const ShmChannel>> channels_;  // by id
};

}  // namespace strata::daemon
