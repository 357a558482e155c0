#include "daemon/api/api.h"

#include <exception>

#include "daemon/api/api_error.h"
#include "daemon/api/api_state.h"
#include "daemon/log/logger.h"
#include "daemon/metrics/metrics.h"
#include "daemon/models/model_registry.h"

namespace strata::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// Wraps the server's exchange to count the request in flight while it is answered and to
// record its route, status and duration when the answer is complete.
class MeteredExchange final : public Exchange {
 public:
  MeteredExchange(std::shared_ptr<Exchange> inner, Metrics& metrics, Logger& log, std::shared_ptr<int64_t> in_flight,
                  std::string route, std::string method)
      : inner_(std::move(inner)),
        metrics_(metrics),
        log_(log),
        in_flight_(std::move(in_flight)),
        route_(std::move(route)),
        method_(std::move(method)),
        start_(Clock::now()) {
    ++*in_flight_;
  }
  ~MeteredExchange() override {
    if (!done_) {
      // A handler dropped the exchange without answering: a bug, but the client still gets one.
      inner_->respond(500, "application/json",
                      server_error("internal", "the request was dropped without an answer").body());
      finish(500);
    }
  }

  void set_route(std::string route) { route_ = std::move(route); }

  void respond(int status, std::string_view content_type, std::string body) override {
    if (done_) return;
    inner_->respond(status, content_type, std::move(body));
    finish(status);
  }
  void respond_with_fd(int status, std::string_view content_type, std::string body, int fd) override {
    if (done_) return;
    inner_->respond_with_fd(status, content_type, std::move(body), fd);
    finish(status);
  }
  void start_events() override {
    if (done_) return;
    streaming_ = true;
    inner_->start_events();
  }
  void send_event(std::string_view data) override {
    if (!done_) inner_->send_event(data);
  }
  void end_events() override {
    if (done_) return;
    inner_->end_events();
    finish(200);
  }
  bool client_gone() const override { return inner_->client_gone(); }
  void on_client_gone(std::function<void()> fn) override { inner_->on_client_gone(std::move(fn)); }

 private:
  void finish(int status) {
    done_ = true;
    --*in_flight_;
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    // A client that left is recorded as 499 (nginx's "client closed request").
    const int recorded = inner_->client_gone() ? 499 : status;
    metrics_.record_request(route_, recorded, secs);
    if (log_.enabled(LogLevel::Debug)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f ms", secs * 1e3);
      log_.debug(method_ + " " + route_ + " " + std::to_string(recorded) + (streaming_ ? " (stream) " : " ") + buf);
    }
  }

  std::shared_ptr<Exchange> inner_;
  Metrics& metrics_;
  Logger& log_;
  std::shared_ptr<int64_t> in_flight_;
  std::string route_, method_;
  Clock::time_point start_;
  bool done_ = false;
  bool streaming_ = false;
};

}  // namespace

void respond_json(Exchange& ex, int status, std::string body) {
  ex.respond(status, "application/json", std::move(body));
}

void respond_error(Exchange& ex, const ApiError& error) { respond_json(ex, error.status(), error.body()); }

ApiError unknown_model(const ApiState& st, const std::string& name) {
  std::string known;
  for (const auto& n : st.ctx.models.names()) known += (known.empty() ? "" : ", ") + n;
  std::string shown;
  for (char c : name.substr(0, 128)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  return not_found("model_not_found",
                   "unknown model '" + shown + "'; known models: " + (known.empty() ? "(none configured)" : known));
}

Api::Api(ApiContext context, const Config& config) : state_(std::make_unique<ApiState>(std::move(context))) {
  configure(config);
  state_->shm = std::make_unique<ShmChannels>(config.state_dir);
  if (const size_t stale = state_->shm->remove_stale())
    state_->ctx.log.info("removed " + std::to_string(stale) + " shared-memory segment(s) left by an earlier run (" +
                         state_->shm->prefix() + "*)");
  state_->ctx.log.info("shared-memory channels are segments /dev/shm/" + state_->shm->prefix() + "*");
}

Api::~Api() = default;

void Api::configure(const Config& config) {
  state_->limits.max_tokens = config.max_tokens;
  state_->limits.default_max_tokens = config.default_max_tokens;
  state_->shm_max_bytes = static_cast<uint64_t>(config.shm_max_bytes);
  state_->shm_channels_per_user = config.shm_channels_per_user;
}

void Api::connection_closed(uint64_t connection) {
  if (state_->shm) state_->shm->close_connection(connection);
}

int64_t Api::in_flight() const { return *state_->in_flight; }

void Api::cancel_all() { state_->generations.cancel_all(); }

void Api::handle(HttpRequest req, std::shared_ptr<Exchange> exchange) {
  ApiState& st = *state_;
  auto ex = std::make_shared<MeteredExchange>(std::move(exchange), st.ctx.metrics, st.ctx.log, st.in_flight, "unknown",
                                              req.method);
  try {
    const RouteMatch m = match_route(req.method, req.target);
    ex->set_route(std::string(route_pattern(m.route)));
    switch (m.route) {
      case Route::Models: return handle_models(st, req, ex);
      case Route::Completions: return handle_completions(st, req, ex);
      case Route::ChatCompletions: return handle_chat_completions(st, req, ex);
      case Route::Generate: return handle_generate(st, req, ex);
      case Route::ListSessions: return handle_list_sessions(st, req, ex);
      case Route::GetSession: return handle_get_session(st, req, m.session_id, ex);
      case Route::DeleteSession: return handle_delete_session(st, req, m.session_id, ex);
      case Route::SnapshotSession: return handle_snapshot_session(st, req, m.session_id, ex);
      case Route::ExportSession: return handle_export_session(st, req, m.session_id, ex);
      case Route::ImportSession: return handle_import_session(st, req, ex);
      case Route::Status: return handle_status(st, req, ex);
      case Route::Metrics: return handle_metrics(st, req, ex);
      case Route::OpenShm: return handle_open_shm(st, req, ex);
      case Route::CloseShm: return handle_close_shm(st, req, m.session_id, ex);
    }
  } catch (const ApiError& e) {
    respond_error(*ex, e);
  } catch (const std::exception& e) {
    st.ctx.log.error(std::string("request failed: ") + e.what());
    respond_error(*ex, server_error("internal", e.what()));
  }
}

}  // namespace strata::daemon
