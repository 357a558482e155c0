#include "tests/daemon/daemon_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace strata::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

}  // namespace

HttpConnection HttpConnection::unix_socket(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot connect to " + path.string() + ": " + std::strerror(errno));
  }
  return HttpConnection(fd);
}

HttpConnection HttpConnection::tcp(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  return HttpConnection(fd);
}

HttpConnection::HttpConnection(HttpConnection&& o) noexcept
    : fd_(o.fd_),
      raw_(std::move(o.raw_)),
      body_(std::move(o.body_)),
      chunked_(o.chunked_),
      remaining_(o.remaining_),
      done_(o.done_) {
  o.fd_ = -1;
}

HttpConnection::~HttpConnection() { close(); }

void HttpConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void HttpConnection::send_raw(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    // The daemon may answer and close before the whole request is written (413 as soon as the
    // headers declare too large a body): stop sending, as HTTP clients do, and let the caller
    // read the answer that is already waiting.
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return;
    if (n <= 0) throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
}

void HttpConnection::send_request(const std::string& method, const std::string& target, const std::string& body,
                                  const std::vector<std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  if (!body.empty() || method == "POST") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  send_raw(req);
}

bool HttpConnection::fill(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  const int r = ::poll(&p, 1, timeout_ms);
  if (r == 0) throw std::runtime_error("timed out waiting for the daemon");
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  raw_.append(buf, static_cast<size_t>(n));
  return true;
}

HttpResponse HttpConnection::read_head(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left = [&] {
    return static_cast<int>(
        std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  HttpResponse r;
  for (;;) {
    size_t end = raw_.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string head = raw_.substr(0, end);
      raw_.erase(0, end + 4);
      const size_t sp = head.find(' ');
      r.status = std::stoi(head.substr(sp + 1, 3));
      size_t pos = head.find("\r\n");
      while (pos != std::string::npos) {
        const size_t next = head.find("\r\n", pos + 2);
        const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
        const size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string v = line.substr(colon + 1);
          while (!v.empty() && v.front() == ' ') v.erase(0, 1);
          r.headers[lower(line.substr(0, colon))] = v;
        }
        pos = next;
      }
      if (r.status == 100) continue;  // 100 Continue: the real answer follows
      chunked_ = lower(r.headers["transfer-encoding"]) == "chunked";
      remaining_ = r.headers.count("content-length") ? std::stoll(r.headers["content-length"]) : -1;
      done_ = !chunked_ && remaining_ == 0;
      body_.clear();
      return r;
    }
    if (Clock::now() > deadline) throw std::runtime_error("timed out waiting for a response head");
    if (!fill(left())) throw std::runtime_error("the connection closed before a response head");
  }
}

void HttpConnection::decode() {
  if (done_) return;
  if (!chunked_) {
    if (remaining_ < 0) {
      body_ += raw_;
      raw_.clear();
      return;
    }
    const size_t n = std::min<size_t>(raw_.size(), static_cast<size_t>(remaining_));
    body_ += raw_.substr(0, n);
    raw_.erase(0, n);
    remaining_ -= static_cast<int64_t>(n);
    done_ = remaining_ == 0;
    return;
  }
  for (;;) {
    const size_t eol = raw_.find("\r\n");
    if (eol == std::string::npos) return;
    const size_t size = std::stoul(raw_.substr(0, eol), nullptr, 16);
    if (size == 0) {
      if (raw_.size() < eol + 4) return;  // the last chunk's trailing CRLF
      raw_.erase(0, eol + 4);
      done_ = true;
      return;
    }
    if (raw_.size() < eol + 2 + size + 2) return;
    body_ += raw_.substr(eol + 2, size);
    raw_.erase(0, eol + 2 + size + 2);
  }
}

HttpResponse HttpConnection::read_response(int timeout_ms) {
  HttpResponse r = read_head(timeout_ms);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    decode();
    if (done_) break;
    if (Clock::now() > deadline) throw std::runtime_error("timed out reading a response body");
    if (!fill(timeout_ms)) {
      if (!chunked_ && remaining_ < 0) break;  // body until close
      throw std::runtime_error("the connection closed in the middle of a response body");
    }
  }
  r.body = std::move(body_);
  body_.clear();
  return r;
}

std::optional<std::string> HttpConnection::next_event(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    decode();
    const size_t end = body_.find("\n\n");
    if (end != std::string::npos) {
      std::string ev = body_.substr(0, end);
      body_.erase(0, end + 2);
      if (ev.rfind("data: ", 0) == 0) ev.erase(0, 6);
      return ev;
    }
    if (done_) return std::nullopt;
    if (Clock::now() > deadline) throw std::runtime_error("timed out waiting for an event");
    if (!fill(timeout_ms)) {
      if (!chunked_ && remaining_ < 0) return std::nullopt;
      throw std::runtime_error("the connection closed in the middle of an event stream");
    }
  }
}

bool HttpConnection::wait_closed(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    try {
      if (!fill(50)) return true;
    } catch (const std::runtime_error&) {
    }
  }
  return false;
}

HttpResponse http_request(const std::filesystem::path& socket, const std::string& method, const std::string& target,
                          const std::string& body, int timeout_ms) {
  HttpConnection c = HttpConnection::unix_socket(socket);
  c.send_request(method, target, body);
  return c.read_response(timeout_ms);
}

std::vector<std::string> sse_events(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    std::string ev = body.substr(pos, end - pos);
    if (ev.rfind("data: ", 0) == 0) out.push_back(ev.substr(6));
    pos = end + 2;
  }
  return out;
}

}  // namespace strata::test
