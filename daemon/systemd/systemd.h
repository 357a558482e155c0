// The daemon's side of systemd: readiness and status notifications (sd_notify), the watchdog,
// and socket activation (sd_listen_fds). Each call does nothing when systemd did not start us.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace strata::daemon::systemd {

void notify_ready(const std::string& status);     // READY=1 + STATUS=
void notify_status(const std::string& status);    // STATUS=
void notify_reloading();                          // RELOADING=1 + MONOTONIC_USEC=
void notify_stopping(const std::string& status);  // STOPPING=1 + STATUS=
void notify_watchdog();                           // WATCHDOG=1

// Half of WATCHDOG_USEC when the service manager expects pings from this process.
std::optional<std::chrono::microseconds> watchdog_ping_interval();

struct InheritedSocket {
  int fd = -1;
  bool unix_socket = false;  // AF_UNIX stream; otherwise an AF_INET/AF_INET6 stream socket
};
// Listening sockets passed by socket activation (LISTEN_FDS); the environment variables are
// unset so that children do not inherit them. Throws std::runtime_error for a passed descriptor
// that is not a listening stream socket.
std::vector<InheritedSocket> inherited_sockets();

}  // namespace strata::daemon::systemd
