// One stream connection to the daemon (Unix socket or TCP) with timeouts on every wait.
// The descriptor is non-blocking; waits use poll(). Errors throw CallError.
#pragma once

#include <cstddef>
#include <string_view>

#include "sdk/client/endpoint.h"

namespace strata::libclient {

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { close(); }

  // Connects within timeout_ms (> 0). Throws CallError(STRATA_ERR_CONNECT) naming the endpoint.
  void open(const Endpoint& endpoint, int timeout_ms);
  bool is_open() const { return fd_ >= 0; }
  // An open connection with nothing pending to read. A keep-alive connection the daemon closed
  // (or that carries unexpected bytes) is not reusable.
  bool reusable() const;
  // Writes everything; returns false when the daemon stopped reading first (it answered and
  // closed, e.g. 413 for a body over its limit): the connection stays open so that the answer
  // can be read. timeout_ms <= 0 waits forever. Throws STRATA_ERR_IO / STRATA_ERR_TIMEOUT.
  bool send_all(std::string_view data, int timeout_ms);
  // Reads what is available (at least one byte), or returns 0 at end of stream. A descriptor the
  // daemon passed with the bytes (SCM_RIGHTS: a shared-memory segment) is kept for take_fd().
  size_t receive(char* buffer, size_t size, int timeout_ms);
  // The descriptor received last and not yet taken (the caller owns it then), or -1.
  int take_fd();
  // Counts the connections opened; a new value means a new connection (the daemon's state
  // bound to the old one, like shared-memory channels, is gone).
  uint64_t serial() const { return serial_; }
  void close();

 private:
  void wait(short events, int timeout_ms, const char* what);
  void keep_fd(int fd);
  int fd_ = -1;
  int passed_fd_ = -1;
  uint64_t serial_ = 0;
};

}  // namespace strata::libclient
