// /strata/v1/status and /metrics.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "daemon/api/api_state.h"
#include "daemon/api/utf8.h"
#include "daemon/metrics/metrics.h"
#include "daemon/models/model_registry.h"
#include "daemon/sessions/session_store.h"
#include "engine/core/version.h"

namespace strata::daemon {

namespace json = boost::json;

void handle_status(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  json::array models;
  for (const ModelStatus& m : st.ctx.models.status()) {
    json::object o{{"name", m.name},
                   {"path", valid_utf8(m.path)},
                   {"loaded", m.loaded},
                   {"loading", m.loading},
                   {"context", m.context},
                   {"memory",
                    {{"weights_bytes", m.weights_bytes},
                     {"kv_bytes", m.kv_bytes + st.ctx.sessions.kv_bytes(m.name)},
                     {"scratch_bytes", 0}}},
                   {"sessions", st.ctx.sessions.count_for_model(m.name)},
                   {"queue", {{"queued", m.queued}, {"running", m.running}}},
                   {"requests", m.leases}};
    if (!m.last_error.empty()) o.emplace("last_error", valid_utf8(m.last_error));
    models.push_back(std::move(o));
  }
  json::array sessions;
  for (const Session* s : st.ctx.sessions.list(req.peer.uid))
    sessions.push_back(json::object{{"id", s->id}, {"model", s->model}, {"kv_bytes", s->kv_bytes}});
  const double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - st.ctx.started).count();
  json::object o{{"version", version_string()},
                 {"uptime_s", static_cast<int64_t>(uptime)},
                 {"models", std::move(models)},
                 {"sessions", std::move(sessions)},
                 {"requests", {{"in_flight", *st.in_flight}, {"generating", st.generations.size()}}},
                 {"connections", st.ctx.connections()},
                 {"memory",
                  {{"budget_bytes", st.ctx.models.memory_budget()},
                   {"in_use_bytes", st.ctx.models.memory_in_use() + st.ctx.sessions.kv_bytes()}}}};
  respond_json(*ex, 200, json::serialize(o));
}

void handle_metrics(ApiState& st, const HttpRequest&, const std::shared_ptr<Exchange>& ex) {
  Metrics::Gauges g;
  g.sessions = static_cast<int64_t>(st.ctx.sessions.size());
  g.requests_in_flight = *st.in_flight;
  g.connections = st.ctx.connections();
  for (const ModelStatus& m : st.ctx.models.status()) {
    g.kv_bytes += m.kv_bytes;
    g.models.push_back({m.name, m.loaded, m.loading, m.queued, m.running, m.weights_bytes});
  }
  g.kv_bytes += st.ctx.sessions.kv_bytes();
  ex->respond(200, "text/plain; version=0.0.4; charset=utf-8", st.ctx.metrics.render(g));
}

}  // namespace strata::daemon
