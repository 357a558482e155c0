// The HTTP/1.1 server: accepts connections on the Unix socket and the optional loopback TCP
// listener, parses requests and hands them to a RequestHandler. Runs on one io_context thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "daemon/server/exchange.h"
#include "daemon/server/token_auth.h"

namespace boost::asio {
class io_context;
}

namespace strata::daemon {

class Logger;

struct ServerLimits {
  int64_t max_body_bytes = 8 << 20;
  int64_t max_connections = 256;
  int64_t keep_alive_seconds = 60;
  // POST /strata/v1/sessions/import only: session archives hold KV and outgrow max_body_bytes.
  int64_t max_import_bytes = int64_t(1) << 30;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, RequestHandler& handler, Logger& log, ServerLimits limits);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Adopts a listening socket. Over TCP every request must carry the bearer token.
  void add_unix_listener(int fd);
  void add_tcp_listener(int fd, BearerToken token);
  void start();  // starts accepting

  void set_limits(const ServerLimits& limits);
  // Shutdown, step 1: no new connections; idle ones are closed, busy ones close after their answer.
  void stop_accepting();
  // Shutdown, step 2: closes every connection.
  void close_all();
  int64_t connection_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::daemon
