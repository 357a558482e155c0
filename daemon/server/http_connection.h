// One client connection: reads requests one at a time, answers through an Exchange, keeps the
// connection alive between requests, and notices a client that leaves while its request runs
// (a read on the idle socket completes with EOF). Internal to server/; I/O thread only.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "daemon/server/exchange.h"
#include "daemon/server/http_server.h"

namespace strata::daemon {

class Connection;

// What connections share with the server that owns them.
struct ServerShared {
  RequestHandler& handler;
  Logger& log;
  ServerLimits limits;
  bool draining = false;              // shutting down: close after the current answer
  std::set<Connection*> connections;  // live ones
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Socket = boost::asio::generic::stream_protocol::socket;

  // `token`: required bearer token (TCP); null for the Unix socket.
  Connection(Socket socket, std::shared_ptr<ServerShared> shared, PeerIdentity peer, const BearerToken* token,
             bool over_limit);
  ~Connection();

  void start();
  void close();  // closes now; a request being handled sees client_gone()
  bool idle() const { return state_ != State::Handling; }

  // The Exchange of request `n` forwards here; calls for an older request are ignored.
  // fd >= 0: a duplicate of it goes to the client with the answer's first byte (SCM_RIGHTS).
  void respond(uint64_t n, int status, std::string_view content_type, std::string body, int fd = -1);
  void start_events(uint64_t n);
  void send_event(uint64_t n, std::string_view data);
  void end_events(uint64_t n);
  bool client_gone() const { return gone_; }
  boost::asio::any_io_executor executor() { return socket_.get_executor(); }
  void on_client_gone(uint64_t n, std::function<void()> fn);
  void abandon(uint64_t n);  // the exchange was dropped unanswered

 private:
  enum class State { Reading, Handling, Idle, Closed };

  void read_request();
  void on_header(boost::system::error_code ec);
  void on_body(boost::system::error_code ec);
  void dispatch();
  void watch();
  void on_watch(boost::system::error_code ec, size_t n);
  void arm_timer(int64_t seconds);
  void reject(int status, const std::string& code, const std::string& message);
  void write(std::string bytes, int fd = -1);
  void do_write();
  void send_with_fd();
  void on_write(boost::system::error_code ec);
  void answer_complete();
  void after_answer();

  Socket socket_;
  std::shared_ptr<ServerShared> shared_;  // shared: a connection may outlive the server briefly
  PeerIdentity peer_;
  uint64_t id_;  // HttpRequest::connection
  const BearerToken* token_;
  bool over_limit_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::asio::steady_timer timer_;

  State state_ = State::Reading;
  uint64_t request_no_ = 0;
  bool keep_alive_ = true;
  bool head_ = false;      // a HEAD request: no body in the answer
  int64_t body_limit_ = 0;  // of the request being read: max_body_bytes, or max_import_bytes for an archive
  bool chunked_ = false;   // the event stream is sent chunked (HTTP/1.1)
  bool answered_ = false;  // the whole answer is queued
  bool watching_ = false;  // a read is pending to notice EOF while handling
  bool writing_ = false;
  bool gone_ = false;
  // Bytes to send in order; `fd` (owned, -1 for none) travels with the first byte of its bytes.
  struct Outgoing {
    std::string bytes;
    int fd = -1;
  };
  std::deque<Outgoing> out_;
  size_t queued_bytes_ = 0;
  std::function<void()> on_gone_;
};

}  // namespace strata::daemon
