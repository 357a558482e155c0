// The HTTP API: routes a request to its handler and answers errors as JSON. See docs/protocol.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "daemon/config/config.h"
#include "daemon/server/exchange.h"

namespace strata::daemon {

class Logger;
class Metrics;
class ModelRegistry;
class SessionStore;
struct ApiState;

struct ApiContext {
  Logger& log;
  ModelRegistry& models;
  SessionStore& sessions;
  Metrics& metrics;
  std::function<void(std::function<void()>)> post;  // runs a function on the I/O thread; thread-safe
  std::function<int64_t()> connections;             // open client connections
  std::chrono::steady_clock::time_point started;
};

class Api final : public RequestHandler {
 public:
  Api(ApiContext context, const Config& config);
  ~Api() override;

  void handle(HttpRequest request, std::shared_ptr<Exchange> exchange) override;
  void connection_closed(uint64_t connection) override;
  // Takes new limits (SIGHUP).
  void configure(const Config& config);
  // Requests being answered now.
  int64_t in_flight() const;
  // Shutdown: stops every generation at its next step (their clients get what was generated).
  void cancel_all();

 private:
  std::unique_ptr<ApiState> state_;
};

}  // namespace strata::daemon
