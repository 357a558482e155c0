// What the API layer sees of HTTP: a parsed request and the channel for its answer. Free of
// Asio and Beast, so that handlers compile fast and can be tested without sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace strata::daemon {

// Who is on the other end. Unix socket: the peer's credentials (SO_PEERCRED). TCP: the listener
// only admits holders of the bearer token, who act as the uid owning the token file.
struct PeerIdentity {
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;  // 0 over TCP
  bool tcp = false;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v1/models?x=1"
  std::string body;
  PeerIdentity peer;
  uint64_t connection = 0;  // which connection it came on (unique while the daemon runs; never 0)
};

// One request's answer. Every method must be called on the I/O thread. A handler answers with
// exactly one respond(), or with start_events(), any number of send_event() and end_events().
class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual void respond(int status, std::string_view content_type, std::string body) = 0;
  // respond(), passing a duplicate of `fd` to the client with the answer's first byte
  // (SCM_RIGHTS; Unix socket only). The caller keeps its own descriptor.
  virtual void respond_with_fd(int status, std::string_view content_type, std::string body, int fd) = 0;
  // Server-sent events: a 200 response with Content-Type text/event-stream, sent chunked.
  virtual void start_events() = 0;
  virtual void send_event(std::string_view data) = 0;  // written as "data: <data>\n\n"
  virtual void end_events() = 0;

  // True once the client has gone (closed, reset, or not reading); answering then does nothing.
  virtual bool client_gone() const = 0;
  // Called once, on the I/O thread, if the client goes away before the answer is complete.
  virtual void on_client_gone(std::function<void()> fn) = 0;
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual void handle(HttpRequest request, std::shared_ptr<Exchange> exchange) = 0;
  // The connection HttpRequest::connection named is closed; called once, on the I/O thread.
  virtual void connection_closed(uint64_t /*connection*/) {}
};

}  // namespace strata::daemon
