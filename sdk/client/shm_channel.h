// The client's side of a shared-memory channel (POST /strata/v1/shm): the daemon creates the
// segment and passes its descriptor with the answer; the client maps it and writes prompts into
// it and reads outputs out of it. A channel belongs to the connection that opened it: when the
// client reconnects, the daemon has removed it, and the next ensure() opens a new one.
#pragma once

#include <cstdint>
#include <string>

#include "sdk/client/client_core.h"

namespace strata::libclient {

class ShmChannel {
 public:
  ShmChannel() = default;
  ShmChannel(const ShmChannel&) = delete;
  ShmChannel& operator=(const ShmChannel&) = delete;
  ~ShmChannel() { unmap(); }

  // Makes sure a channel of at least `size` bytes is open on the core's current connection,
  // opening one (or a larger one) when needed. Throws CallError when the daemon refuses.
  void ensure(ClientCore& core, uint64_t size);
  const std::string& id() const { return id_; }
  char* data() const { return map_; }
  uint64_t size() const { return size_; }

  // Channels are at least this large: tmpfs pages are only allocated when written, so a roomy
  // channel costs nothing until used and is reopened less often.
  static constexpr uint64_t kMinSize = 16u << 20;

 private:
  void unmap();
  std::string id_;
  char* map_ = nullptr;
  uint64_t size_ = 0;
  uint64_t serial_ = 0;  // ClientCore::connection_serial() it was opened on
};

}  // namespace strata::libclient
