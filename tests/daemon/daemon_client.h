// A small blocking HTTP/1.1 client for the daemon tests: Unix socket or loopback TCP, keep-alive,
// Content-Length and chunked bodies, and server-sent events read one at a time. Plain POSIX so
// that the tests do not depend on the daemon's own HTTP code.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;                            // decoded (chunked framing removed)
};

class HttpConnection {
 public:
  static HttpConnection unix_socket(const std::filesystem::path& path);
  static HttpConnection tcp(int port);
  HttpConnection(HttpConnection&& other) noexcept;
  HttpConnection& operator=(HttpConnection&&) = delete;
  ~HttpConnection();

  void send_raw(std::string_view bytes);
  void send_request(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::vector<std::string>& headers = {});
  // One whole response. Throws std::runtime_error on timeout or when the connection ends early.
  HttpResponse read_response(int timeout_ms = 60000);
  // The status line and headers only; then next_event() reads the body event by event.
  HttpResponse read_head(int timeout_ms = 60000);
  // The payload of the next "data:" event; std::nullopt at the end of the body. Throws on timeout.
  std::optional<std::string> next_event(int timeout_ms = 60000);
  // Waits until the server closes the connection; false on timeout.
  bool wait_closed(int timeout_ms);
  void close();

 private:
  explicit HttpConnection(int fd) : fd_(fd) {}
  bool fill(int timeout_ms);  // appends to raw_; false at EOF
  void decode();              // raw_ -> body_ per the framing
  bool body_complete() const;

  int fd_ = -1;
  std::string raw_;   // bytes received, not yet consumed
  std::string body_;  // decoded body bytes not yet consumed
  bool chunked_ = false;
  int64_t remaining_ = -1;  // Content-Length bytes still to come; -1: until close
  bool done_ = false;       // the body ended
};

// One request on a fresh connection.
HttpResponse http_request(const std::filesystem::path& socket, const std::string& method, const std::string& target,
                          const std::string& body = "", int timeout_ms = 60000);
// The payloads of the "data:" events of an event-stream body.
std::vector<std::string> sse_events(const std::string& body);

}  // namespace strata::test
