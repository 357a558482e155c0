#include "daemon/server/socket_setup.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <vector>

#include "daemon/log/logger.h"

namespace strata::daemon {
namespace {

constexpr int kBacklog = 512;

std::runtime_error sys_error(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    throw std::runtime_error(path + ": the socket path is longer than " + std::to_string(sizeof addr.sun_path - 1) +
                             " bytes");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Whether a process accepts connections on the socket file at `path`.
bool socket_is_live(const sockaddr_un& addr) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

std::optional<gid_t> group_id(const char* name) {
  std::vector<char> buf(16384);
  struct group g {};
  struct group* out = nullptr;
  if (getgrnam_r(name, &g, buf.data(), buf.size(), &out) != 0 || !out) return std::nullopt;
  return out->gr_gid;
}

}  // namespace

int bind_unix_socket(const std::string& path, Logger& log) {
  const sockaddr_un addr = unix_address(path);
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw std::runtime_error(parent.string() + ": cannot create the socket directory: " + ec.message());
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error(path + ": exists and is not a socket");
    if (socket_is_live(addr)) throw std::runtime_error(path + ": another daemon is listening on this socket");
    log.info("removing stale socket " + path);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw sys_error(path + ": cannot remove the stale socket");
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sys_error("socket");
  // Created 0660 from the start: no moment where others could connect.
  const mode_t old_mask = ::umask(0117);
  const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::umask(old_mask);
  if (rc != 0) {
    const auto e = sys_error(path + ": bind");
    ::close(fd);
    throw e;
  }
  ::chmod(path.c_str(), 0660);
  if (auto gid = group_id("strata")) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0)
      log.warn(path + ": cannot give the socket to group strata: " + std::strerror(errno));
  }
  if (::listen(fd, kBacklog) != 0) {
    const auto e = sys_error(path + ": listen");
    ::close(fd);
    throw e;
  }
  return fd;
}

int bind_tcp_socket(const ListenAddress& a) {
  const int fd = ::socket(a.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sys_error("socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (a.ipv6) {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(a.port);
    ::inet_pton(AF_INET6, a.host.c_str(), &addr.sin6_addr);
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(a.port);
    ::inet_pton(AF_INET, a.host.c_str(), &addr.sin_addr);
    rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  }
  if (rc != 0 || ::listen(fd, kBacklog) != 0) {
    const auto e = sys_error("TCP " + a.host + ":" + std::to_string(a.port));
    ::close(fd);
    throw e;
  }
  return fd;
}

int local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return -1;
}

}  // namespace strata::daemon
