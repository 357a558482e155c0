#include "sdk/client/connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "sdk/client/call_error.h"

namespace strata::libclient {

namespace {

std::string errno_text(int e) { return std::strerror(e); }

int make_socket(int family) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw CallError(STRATA_ERR_CONNECT, "cannot create a socket: " + errno_text(errno));
  return fd;
}

// Waits for a non-blocking connect to finish. Returns 0 or the errno of the failure.
int finish_connect(int fd, int rc, int timeout_ms) {
  if (rc == 0) return 0;
  if (errno != EINPROGRESS && errno != EAGAIN) return errno;
  pollfd p{fd, POLLOUT, 0};
  int n;
  do n = ::poll(&p, 1, timeout_ms);
  while (n < 0 && errno == EINTR);
  if (n == 0) return ETIMEDOUT;
  if (n < 0) return errno;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

}  // namespace

void Connection::open(const Endpoint& endpoint, int timeout_ms) {
  close();
  if (!endpoint.tcp) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (endpoint.path.empty() || endpoint.path.size() >= sizeof addr.sun_path)
      throw CallError(STRATA_ERR_INVALID_ARGUMENT, "socket path '" + endpoint.path + "' is empty or too long");
    std::memcpy(addr.sun_path, endpoint.path.c_str(), endpoint.path.size() + 1);
    const int fd = make_socket(AF_UNIX);
    const int err = finish_connect(fd, ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), timeout_ms);
    if (err != 0) {
      ::close(fd);
      throw CallError(STRATA_ERR_CONNECT, "cannot connect to stratad at " + endpoint.path + ": " + errno_text(err));
    }
    fd_ = fd;
    ++serial_;
    return;
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  addrinfo* list = nullptr;
  const int gai = ::getaddrinfo(endpoint.host.c_str(), endpoint.port.c_str(), &hints, &list);
  if (gai != 0)
    throw CallError(STRATA_ERR_CONNECT, "cannot resolve '" + endpoint.host + "': " + ::gai_strerror(gai));
  std::string last = "no address";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (addrinfo* a = list; a; a = a->ai_next) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      last = errno_text(ETIMEDOUT);
      break;
    }
    int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last = errno_text(errno);
      continue;
    }
    const int err = finish_connect(fd, ::connect(fd, a->ai_addr, a->ai_addrlen), static_cast<int>(left.count()));
    if (err == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd_ = fd;
      ++serial_;
      break;
    }
    last = errno_text(err);
    ::close(fd);
  }
  ::freeaddrinfo(list);
  if (fd_ < 0) throw CallError(STRATA_ERR_CONNECT, "cannot connect to stratad at " + endpoint.describe() + ": " + last);
}

bool Connection::reusable() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

void Connection::wait(short events, int timeout_ms, const char* what) {
  pollfd p{fd_, events, 0};
  int n;
  do n = ::poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
  while (n < 0 && errno == EINTR);
  if (n == 0) {
    close();
    throw CallError(STRATA_ERR_TIMEOUT,
                    std::string("no answer from stratad within ") + std::to_string(timeout_ms) + " ms while " + what);
  }
  if (n < 0) {
    const int e = errno;
    close();
    throw CallError(STRATA_ERR_IO, std::string("poll failed while ") + what + ": " + errno_text(e));
  }
}

bool Connection::send_all(std::string_view data, int timeout_ms) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wait(POLLOUT, timeout_ms, "sending the request");
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;  // its answer may be waiting
    const int e = errno;
    close();
    throw CallError(STRATA_ERR_IO, "the connection to stratad broke while sending: " + errno_text(e));
  }
  return true;
}

void Connection::keep_fd(int fd) {
  if (passed_fd_ >= 0) ::close(passed_fd_);  // one nobody took: the newest counts
  passed_fd_ = fd;
}

int Connection::take_fd() {
  const int fd = passed_fd_;
  passed_fd_ = -1;
  return fd;
}

size_t Connection::receive(char* buffer, size_t size, int timeout_ms) {
  for (;;) {
    // recvmsg rather than recv: the answer to POST /strata/v1/shm carries a descriptor.
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    iovec iov{buffer, size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          keep_fd(fd);
        }
      }
      return static_cast<size_t>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait(POLLIN, timeout_ms, "waiting for the response");
      continue;
    }
    const int e = errno;
    close();
    throw CallError(STRATA_ERR_IO, "the connection to stratad broke while receiving: " + errno_text(e));
  }
}

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  keep_fd(-1);
}

}  // namespace strata::libclient
