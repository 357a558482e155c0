#include "daemon/server/http_connection.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include "daemon/api/api_error.h"
#include "daemon/log/logger.h"

namespace strata::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using error_code = boost::system::error_code;

constexpr size_t kHeaderLimit = 16 * 1024;
// A client that lets this much output pile up is not reading: it is treated as gone.
constexpr size_t kMaxQueuedBytes = 8 << 20;

std::string status_line(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " " +
         std::string(http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)))) +
         "\r\nServer: stratad\r\n";
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// The Exchange handed to the API for one request. Its destruction may happen on any thread:
// the connection is released on the I/O thread.
class HttpExchange final : public Exchange {
 public:
  HttpExchange(std::shared_ptr<Connection> c, uint64_t n) : c_(std::move(c)), n_(n) {}
  ~HttpExchange() override {
    auto exec = c_->executor();
    asio::post(exec, [c = std::move(c_), n = n_] { c->abandon(n); });
  }
  void respond(int status, std::string_view content_type, std::string body) override {
    c_->respond(n_, status, content_type, std::move(body));
  }
  void respond_with_fd(int status, std::string_view content_type, std::string body, int fd) override {
    c_->respond(n_, status, content_type, std::move(body), fd);
  }
  void start_events() override { c_->start_events(n_); }
  void send_event(std::string_view data) override { c_->send_event(n_, data); }
  void end_events() override { c_->end_events(n_); }
  bool client_gone() const override { return c_->client_gone(); }
  void on_client_gone(std::function<void()> fn) override { c_->on_client_gone(n_, std::move(fn)); }

 private:
  std::shared_ptr<Connection> c_;
  uint64_t n_;
};

uint64_t next_connection_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Connection::Connection(Socket socket, std::shared_ptr<ServerShared> shared, PeerIdentity peer, const BearerToken* token,
                       bool over_limit)
    : socket_(std::move(socket)),
      shared_(std::move(shared)),
      peer_(peer),
      id_(next_connection_id()),
      token_(token),
      over_limit_(over_limit),
      timer_(socket_.get_executor()) {
  shared_->connections.insert(this);
}

Connection::~Connection() {
  shared_->connections.erase(this);
  for (const Outgoing& o : out_)
    if (o.fd >= 0) ::close(o.fd);
}

void Connection::start() { read_request(); }

void Connection::close() {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  gone_ = true;
  error_code ec;
  timer_.cancel();
  socket_.shutdown(Socket::shutdown_both, ec);
  socket_.close(ec);
  if (auto fn = std::move(on_gone_)) {
    on_gone_ = nullptr;
    fn();
  }
  // What the connection owned in the API (shared-memory channels) goes with it.
  shared_->handler.connection_closed(id_);
}

void Connection::arm_timer(int64_t seconds) {
  timer_.expires_after(std::chrono::seconds(seconds));
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    // Only a connection waiting for (the rest of) a request times out.
    if (!ec && (self->state_ == State::Reading || self->state_ == State::Idle)) self->close();
  });
}

void Connection::read_request() {
  state_ = State::Reading;
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  // The larger of the two limits until the target is known (on_header picks the request's).
  body_limit_ = std::max(shared_->limits.max_body_bytes, shared_->limits.max_import_bytes);
  parser_->body_limit(static_cast<uint64_t>(body_limit_));
  arm_timer(shared_->limits.keep_alive_seconds);
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, size_t) { self->on_header(ec); });
}

void Connection::on_header(error_code ec) {
  if (state_ == State::Closed) return;
  timer_.cancel();
  if (ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset)
      return close();
    if (ec == http::error::header_limit)
      return reject(431, "header_too_large", "the request header is larger than 16 KiB");
    if (ec == http::error::body_limit)  // a Content-Length past the limit is refused with the header
      return reject(413, "body_too_large",
                    "the request body is larger than " + std::to_string(body_limit_) + " bytes");
    return reject(400, "bad_http", "malformed HTTP request (" + ec.message() + ")");
  }
  auto& req = parser_->get();
  const bool archive = req.method() == http::verb::post && req.target() == "/strata/v1/sessions/import";
  body_limit_ = archive ? shared_->limits.max_import_bytes : shared_->limits.max_body_bytes;
  if (const auto n = parser_->content_length(); n && *n > static_cast<uint64_t>(body_limit_))
    return reject(413, "body_too_large",
                  "the request body is larger than " + std::to_string(body_limit_) + " bytes" +
                      (archive ? " (limits.max_import_bytes)" : ""));
  parser_->body_limit(static_cast<uint64_t>(body_limit_));
  keep_alive_ = req.keep_alive();
  head_ = req.method() == http::verb::head;
  if (auto it = req.find(http::field::expect); it != req.end() && iequals(it->value(), "100-continue"))
    write("HTTP/1.1 100 Continue\r\n\r\n");
  arm_timer(shared_->limits.keep_alive_seconds);
  http::async_read(socket_, buffer_, *parser_,
                   [self = shared_from_this()](error_code ec, size_t) { self->on_body(ec); });
}

void Connection::on_body(error_code ec) {
  if (state_ == State::Closed) return;
  timer_.cancel();
  if (ec) {
    if (ec == http::error::body_limit)
      return reject(413, "body_too_large",
                    "the request body is larger than " + std::to_string(body_limit_) + " bytes");
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset)
      return close();
    return reject(400, "bad_http", "malformed HTTP request body (" + ec.message() + ")");
  }
  dispatch();
}

void Connection::dispatch() {
  auto& req = parser_->get();
  if (over_limit_) return reject(429, "too_many_connections", "the daemon has too many open connections; retry later");
  if (token_) {
    auto it = req.find(http::field::authorization);
    if (it == req.end() || !bearer_matches(it->value(), token_->token))
      return reject(401, "unauthorized", "a valid 'Authorization: Bearer TOKEN' header is required");
  }
  ++request_no_;
  state_ = State::Handling;
  answered_ = false;
  chunked_ = false;
  HttpRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.body = std::move(req.body());
  r.peer = peer_;
  r.connection = id_;
  // Watch for the client leaving, unless it already sent its next request (pipelining): that
  // one waits in the buffer, and a pending read must not start before it is parsed.
  if (buffer_.size() == 0) watch();
  shared_->handler.handle(std::move(r), std::make_shared<HttpExchange>(shared_from_this(), request_no_));
}

void Connection::reject(int status, const std::string& code, const std::string& message) {
  ++request_no_;
  state_ = State::Handling;
  answered_ = false;
  keep_alive_ = false;
  const std::string type = status == 401 ? "unauthorized" : status == 429 ? "rate_limited" : "invalid_request_error";
  respond(request_no_, status, "application/json", ApiError(status, type, code, message).body());
}

void Connection::watch() {
  watching_ = true;
  socket_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](error_code ec, size_t n) { self->on_watch(ec, n); });
}

void Connection::on_watch(error_code ec, size_t n) {
  watching_ = false;
  if (state_ == State::Closed) return;
  if (ec) return close();  // EOF or reset: the client left (while handling, its request is cancelled)
  buffer_.commit(n);       // the start of a pipelined request: parsed after this answer
  if (state_ == State::Idle) {
    timer_.cancel();
    read_request();
  }
}

void Connection::respond(uint64_t n, int status, std::string_view content_type, std::string body, int fd) {
  if (n != request_no_ || state_ != State::Handling || answered_) return;
  answered_ = true;
  if (shared_->draining) keep_alive_ = false;
  std::string out = status_line(status);
  out += "Content-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out += keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  if (status == 401) out += "WWW-Authenticate: Bearer\r\n";
  out += "\r\n";
  if (!head_) out += body;
  write(std::move(out), fd);
  answer_complete();
}

void Connection::start_events(uint64_t n) {
  if (n != request_no_ || state_ != State::Handling || answered_) return;
  chunked_ = parser_ && parser_->get().version() >= 11;
  if (!chunked_ || shared_->draining) keep_alive_ = false;
  std::string out = status_line(200);
  out += "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
  if (chunked_) out += "Transfer-Encoding: chunked\r\n";
  out += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  write(std::move(out));
}

void Connection::send_event(uint64_t n, std::string_view data) {
  if (n != request_no_ || state_ != State::Handling || answered_) return;
  // Each line of the payload is its own "data:" field.
  std::string payload = "data: ";
  for (char c : data) payload += c == '\n' ? std::string("\ndata: ") : std::string(1, c);
  payload += "\n\n";
  if (chunked_) {
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
    write(size + payload + "\r\n");
  } else {
    write(std::move(payload));
  }
}

void Connection::end_events(uint64_t n) {
  if (n != request_no_ || state_ != State::Handling || answered_) return;
  answered_ = true;
  if (chunked_) write("0\r\n\r\n");
  answer_complete();
}

void Connection::on_client_gone(uint64_t n, std::function<void()> fn) {
  if (n != request_no_) return;
  if (gone_) return fn();
  on_gone_ = std::move(fn);
}

void Connection::abandon(uint64_t n) {
  if (n == request_no_ && state_ == State::Handling && !answered_) {
    shared_->log.error("a request was dropped without an answer; closing its connection");
    close();
  }
}

void Connection::write(std::string bytes, int fd) {
  if (state_ == State::Closed) return;
  // The backlog already queued decides, not the new piece: one large answer (logits as JSON) may
  // exceed the limit; a client that lets answers pile up may not.
  if (queued_bytes_ > kMaxQueuedBytes) {
    shared_->log.warn("a client stopped reading its answer; closing the connection");
    return close();
  }
  Outgoing o{std::move(bytes), -1};
  if (fd >= 0) {
    o.fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (o.fd < 0) {
      shared_->log.error("cannot duplicate a descriptor to pass to a client; closing the connection");
      return close();
    }
  }
  queued_bytes_ += o.bytes.size();
  out_.push_back(std::move(o));
  if (!writing_) do_write();
}

// Sends the first byte of the front piece together with its descriptor, then the rest as usual.
// The socket is non-blocking: a full send buffer waits for writability.
void Connection::send_with_fd() {
  Outgoing& o = out_.front();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{o.bytes.data(), 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &o.fd, sizeof(int));
  ssize_t n;
  do n = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    writing_ = true;
    socket_.async_wait(Socket::wait_write, [self = shared_from_this()](error_code ec) {
      self->writing_ = false;
      if (self->state_ == State::Closed) return;
      if (ec) return self->close();
      self->do_write();
    });
    return;
  }
  if (n != 1) return close();
  ::close(o.fd);
  o.fd = -1;
  o.bytes.erase(0, 1);
  --queued_bytes_;
  if (o.bytes.empty()) {
    out_.pop_front();
    if (!out_.empty()) return do_write();
    if (state_ == State::Handling && answered_) after_answer();
    return;
  }
  do_write();
}

void Connection::do_write() {
  if (out_.front().fd >= 0) return send_with_fd();
  writing_ = true;
  asio::async_write(socket_, asio::buffer(out_.front().bytes),
                    [self = shared_from_this()](error_code ec, size_t) { self->on_write(ec); });
}

void Connection::on_write(error_code ec) {
  writing_ = false;
  if (state_ == State::Closed) return;
  if (ec) return close();
  queued_bytes_ -= out_.front().bytes.size();
  out_.pop_front();
  if (!out_.empty()) return do_write();
  if (state_ == State::Handling && answered_) after_answer();
}

void Connection::answer_complete() {
  if (state_ == State::Handling && !writing_ && out_.empty()) after_answer();
}

void Connection::after_answer() {
  on_gone_ = nullptr;
  if (!keep_alive_ || shared_->draining) return close();
  if (watching_) {
    // The pending read continues the connection: data starts the next request, EOF closes.
    state_ = State::Idle;
    arm_timer(shared_->limits.keep_alive_seconds);
    return;
  }
  read_request();
}

}  // namespace strata::daemon
