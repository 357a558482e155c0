// State shared by the route handlers (internal to api/). I/O thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/api/api.h"
#include "daemon/api/api_error.h"
#include "daemon/api/requests.h"
#include "daemon/api/routes.h"
#include "daemon/shm/shm_channels.h"

namespace strata::daemon {

// Generations in progress, for cancelling them all at shutdown.
class CancelSet {
 public:
  uint64_t add(std::function<void()> cancel) {
    cancels_.emplace(next_, std::move(cancel));
    return next_++;
  }
  void remove(uint64_t key) { cancels_.erase(key); }
  void cancel_all() {
    auto copy = cancels_;
    for (auto& [k, c] : copy) c();
  }
  size_t size() const { return cancels_.size(); }

 private:
  uint64_t next_ = 1;
  std::map<uint64_t, std::function<void()>> cancels_;
};

struct ApiState {
  explicit ApiState(ApiContext c) : ctx(std::move(c)) {}
  ApiContext ctx;
  ParseLimits limits;
  std::shared_ptr<int64_t> in_flight = std::make_shared<int64_t>(0);
  CancelSet generations;
  std::unique_ptr<ShmChannels> shm;  // created with the state directory's name
  uint64_t shm_max_bytes = 0;
  int64_t shm_channels_per_user = 0;
};

// Route handlers (each in its own file). They throw ApiError for errors found before answering.
void handle_models(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);
void handle_completions(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);
void handle_chat_completions(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);
void handle_generate(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);
void handle_list_sessions(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);
void handle_get_session(ApiState& st, const HttpRequest& req, const std::string& id,
                        const std::shared_ptr<Exchange>& ex);
void handle_delete_session(ApiState& st, const HttpRequest& req, const std::string& id,
                           const std::shared_ptr<Exchange>& ex);
void handle_snapshot_session(ApiState& st, const HttpRequest& req, const std::string& id,
                             const std::shared_ptr<Exchange>& ex);
void handle_export_session(ApiState& st, const HttpRequest& req, const std::string& id,
                           const std::shared_ptr<Exchange>& ex);
void handle_import_session(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);
void handle_status(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);
void handle_metrics(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);
void handle_open_shm(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);
void handle_close_shm(ApiState& st, const HttpRequest& req, const std::string& id,
                      const std::shared_ptr<Exchange>& ex);
// The caller's channel named by a request, or 404 shm_channel_not_found.
std::shared_ptr<const ShmChannel> find_shm_channel(ApiState& st, const HttpRequest& req, const std::string& id);

// Answers an error (or, when events were already started, sends it as a last event).
void respond_error(Exchange& ex, const ApiError& error);
void respond_json(Exchange& ex, int status, std::string body);
// 404 naming the known models.
ApiError unknown_model(const ApiState& st, const std::string& name);

}  // namespace strata::daemon
