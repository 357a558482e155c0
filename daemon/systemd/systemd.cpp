#include "daemon/systemd/systemd.h"

#include <fcntl.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <stdexcept>

namespace strata::daemon::systemd {
namespace {

void send(const std::string& state) { sd_notify(0, state.c_str()); }

}  // namespace

void notify_ready(const std::string& status) { send("READY=1\nSTATUS=" + status); }
void notify_status(const std::string& status) { send("STATUS=" + status); }
void notify_stopping(const std::string& status) { send("STOPPING=1\nSTATUS=" + status); }
void notify_watchdog() { send("WATCHDOG=1"); }

void notify_reloading() {
  // MONOTONIC_USEC lets Type=notify-reload services tell this reload from an earlier one.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const unsigned long long usec =
      static_cast<unsigned long long>(ts.tv_sec) * 1000000ull + static_cast<unsigned long long>(ts.tv_nsec) / 1000;
  send("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

std::optional<std::chrono::microseconds> watchdog_ping_interval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

std::vector<InheritedSocket> inherited_sockets() {
  std::vector<InheritedSocket> out;
  const int n = sd_listen_fds(1);
  if (n <= 0) return out;
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
    InheritedSocket s;
    s.fd = fd;
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) > 0) {
      s.unix_socket = true;
    } else if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0) {
      s.unix_socket = false;
    } else {
      throw std::runtime_error("socket activation passed descriptor " + std::to_string(fd) +
                               ", which is not a listening stream socket (Unix or TCP)");
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    out.push_back(s);
  }
  return out;
}

}  // namespace strata::daemon::systemd
