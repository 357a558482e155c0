// /strata/v1/status and /metrics.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "daemon/api/api_state.h"
#include "daemon/api/utf8.h"
#include "daemon/metrics/metrics.h"
#include "daemon/models/model_registry.h"
#include "daemon/sessions/session_snapshots.h"
#include "daemon/sessions/session_store.h"
#include "engine/core/version.h"
#include "engine/weights/weight_stats_json.h"

namespace strata::daemon {

namespace json = boost::json;

namespace {
json::object memory_json(const LoadedModel::Memory& m) {
  return {{"weights_bytes", m.weights_bytes},
          {"kv_bytes", m.kv_bytes},
          {"kv_free_bytes", m.kv_free_bytes},
          {"scratch_bytes", m.scratch_bytes},
          {"total_bytes", m.total()}};
}
}  // namespace

void handle_status(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  // One reading of the models for the whole answer: the schedulers' counters move on their own
  // threads, and the totals must add up to the figures shown per model.
  const std::vector<ModelStatus> status = st.ctx.models.status();
  json::array models;
  for (const ModelStatus& m : status) {
    json::object o{{"name", m.name},
                   {"path", valid_utf8(m.path)},
                   {"loaded", m.loaded},
                   {"loading", m.loading},
                   {"context", m.context},
                   {"kv_type", m.kv_type},
                   {"memory", memory_json(m.memory)},
                   {"weights", weight_stats_json(m.weights)},
                   {"sessions", st.ctx.sessions.count_for_model(m.name)},
                   {"queue", {{"queued", m.queued}, {"running", m.running}}},
                   {"requests", m.leases}};
    if (!m.last_error.empty()) o.emplace("last_error", valid_utf8(m.last_error));
    models.push_back(std::move(o));
  }
  json::array sessions;
  for (const Session* s : st.ctx.sessions.list(req.peer.uid))
    sessions.push_back(json::object{{"id", s->id},
                                    {"model", s->model},
                                    {"tokens", s->history.size()},
                                    {"kv_bytes", s->kv_bytes},
                                    {"kv_resident", s->sequence != nullptr}});
  LoadedModel::Memory all;
  for (const ModelStatus& m : status) {
    all.weights_bytes += m.memory.weights_bytes;
    all.kv_bytes += m.memory.kv_bytes;
    all.kv_free_bytes += m.memory.kv_free_bytes;
    all.scratch_bytes += m.memory.scratch_bytes;
  }
  json::object memory = memory_json(all);
  memory.emplace("budget_bytes", st.ctx.models.memory_budget());
  // The figure admission compares with the budget (read again: it also counts what models being
  // loaded have reserved, and models removed from the configuration that are not unloaded yet).
  memory.emplace("in_use_bytes", st.ctx.models.memory_in_use());
  // Idle sessions whose KV was dropped (saved first when snapshots are on) to fit the budget.
  memory.emplace("sessions_evicted", st.ctx.metrics.sessions_evicted());
  const double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - st.ctx.started).count();
  json::object snapshots{{"enabled", st.ctx.sessions.snapshots() != nullptr}};
  if (SessionSnapshots* sn = st.ctx.sessions.snapshots()) {
    const SnapshotCounters& c = sn->counters();
    snapshots.emplace("disk_bytes", sn->disk_bytes());
    snapshots.emplace("quota_bytes", sn->quota_bytes());
    snapshots.emplace("hits", c.hits);
    snapshots.emplace("misses", c.misses);
    snapshots.emplace("restored_tokens", c.restored_tokens);
    snapshots.emplace("prefilled_tokens", c.prefilled_tokens);
    snapshots.emplace("restore_seconds", c.restore_seconds);
    snapshots.emplace("saves", c.saves);
    snapshots.emplace("chunks_written", c.chunks_written);
    snapshots.emplace("chunks_dropped", c.chunks_dropped);
  }
  json::object o{{"version", version_string()},
                 {"uptime_s", static_cast<int64_t>(uptime)},
                 {"models", std::move(models)},
                 {"sessions", std::move(sessions)},
                 {"requests", {{"in_flight", *st.in_flight}, {"generating", st.generations.size()}}},
                 {"connections", st.ctx.connections()},
                 {"memory", std::move(memory)},
                 {"snapshots", std::move(snapshots)}};
  respond_json(*ex, 200, json::serialize(o));
}

void handle_metrics(ApiState& st, const HttpRequest&, const std::shared_ptr<Exchange>& ex) {
  Metrics::Gauges g;
  g.sessions = static_cast<int64_t>(st.ctx.sessions.size());
  g.requests_in_flight = *st.in_flight;
  g.connections = st.ctx.connections();
  for (const ModelStatus& m : st.ctx.models.status()) {
    g.kv_bytes += m.memory.kv_bytes;
    g.models.push_back({m.name, m.loaded, m.loading, m.queued, m.running, m.memory.weights_bytes,
                        m.memory.kv_bytes, m.memory.scratch_bytes});
  }
  std::string text = st.ctx.metrics.render(g);
  if (SessionSnapshots* sn = st.ctx.sessions.snapshots()) text += sn->metrics_text();
  ex->respond(200, "text/plain; version=0.0.4; charset=utf-8", text);
}

}  // namespace strata::daemon
