// strata status [--json]: the daemon's version, uptime, models with their memory by category and
// queues, and the caller's sessions with their KV memory.
// strata models [--json]: the models the daemon serves.
#include <boost/json/parse.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "sdk/cli/client_common.h"
#include "sdk/cli/commands.h"

namespace strata::cli {

namespace {

struct StatusOptions {
  DaemonOptions daemon;
  bool json = false;
};

std::string model_state(const client::ModelStatus& m) {
  if (m.loading) return "loading";
  return m.loaded ? "loaded" : "not loaded";
}

// Fields of the status JSON that the C ABI does not carry; absent ones read as "-" / 0.
std::string text_field(const boost::json::object& o, const char* key) {
  const auto* f = o.if_contains(key);
  return f && f->is_string() ? std::string(f->get_string()) : std::string("-");
}
double number_field(const boost::json::object& o, const char* key) {
  const auto* f = o.if_contains(key);
  return f && f->is_number() ? f->to_number<double>() : 0.0;
}
const boost::json::array* array_field(const boost::json::value& v, const char* key) {
  const auto* o = v.if_object();
  const auto* f = o ? o->if_contains(key) : nullptr;
  return f ? f->if_array() : nullptr;
}

// The caller's sessions.
void print_sessions(const boost::json::value& status) {
  const auto* sessions = array_field(status, "sessions");
  if (!sessions || sessions->empty()) return;
  std::vector<std::vector<std::string>> rows{{"SESSION", "MODEL", "TOKENS", "KV", "KV RESIDENT"}};
  for (const auto& sv : *sessions) {
    const auto* s = sv.if_object();
    if (!s) continue;
    const auto* resident = s->if_contains("kv_resident");
    rows.push_back({text_field(*s, "id"), text_field(*s, "model"),
                    std::to_string(static_cast<int64_t>(number_field(*s, "tokens"))),
                    human_bytes(static_cast<int64_t>(number_field(*s, "kv_bytes"))),
                    resident && resident->is_bool() && resident->get_bool() ? "yes" : "no"});
  }
  std::printf("\n");
  print_table(rows);
}

// Where loaded models' weights live (docs/tiered-weights.md): shown when some are off RAM.
void print_weight_tiers(const boost::json::value& status) {
  const auto* models = array_field(status, "models");
  if (!models) return;
  std::vector<std::vector<std::string>> rows{
      {"MODEL", "RAM", "SSD", "STAGING", "SSD READ/TOKEN", "PREFETCH STALL", "I/O HIDDEN"}};
  for (const auto& mv : *models) {
    const auto* m = mv.if_object();
    const auto* w = m && m->contains("weights") ? m->at("weights").if_object() : nullptr;
    if (!w || number_field(*w, "ssd_bytes") + number_field(*w, "gpu_bytes") == 0) continue;
    char stall[32], hidden[32];
    std::snprintf(stall, sizeof stall, "%.2f s", number_field(*w, "prefetch_stall_seconds"));
    std::snprintf(hidden, sizeof hidden, "%.0f%%", 100 * number_field(*w, "hidden_io_share"));
    rows.push_back({text_field(*m, "name"), human_bytes(static_cast<int64_t>(number_field(*w, "ram_bytes"))),
                    human_bytes(static_cast<int64_t>(number_field(*w, "ssd_bytes"))),
                    human_bytes(static_cast<int64_t>(number_field(*w, "staging_bytes"))),
                    human_bytes(static_cast<int64_t>(number_field(*w, "ssd_bytes_per_token"))), stall, hidden});
  }
  if (rows.size() == 1) return;
  std::printf("\n");
  print_table(rows);
}

void status(const StatusOptions& o) {
  client::Client c = connect_daemon(o.daemon);
  client::Status st = c.status();
  if (o.json) {
    std::printf("%s\n", st.json.c_str());
    return;
  }
  std::printf("stratad %s at %s, up %s, %zu session%s\n", st.version.c_str(), c.endpoint().c_str(),
              human_duration(st.uptime_s).c_str(), st.sessions, st.sessions == 1 ? "" : "s");
  if (st.models.empty()) {
    std::printf("no models\n");
    return;
  }
  std::vector<std::vector<std::string>> rows{{"MODEL", "STATE", "KV TYPE", "WEIGHTS", "KV", "KV KEPT", "SCRATCH",
                                              "TOTAL", "SESSIONS", "RUNNING", "QUEUED", "PATH"}};
  for (const auto& m : st.models)
    rows.push_back({m.name, model_state(m), m.kv_type.empty() ? "-" : m.kv_type, human_bytes(m.weights_bytes),
                    human_bytes(m.kv_bytes), human_bytes(m.kv_free_bytes), human_bytes(m.scratch_bytes),
                    human_bytes(m.total_bytes), std::to_string(m.sessions), std::to_string(m.running),
                    std::to_string(m.queued), m.path});
  print_table(rows);
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(st.json, ec);
  if (ec) return;
  print_weight_tiers(v);
  print_sessions(v);
}

void models(const StatusOptions& o) {
  client::Client c = connect_daemon(o.daemon);
  client::ModelList list = c.models();
  if (o.json) {
    std::printf("%s\n", list.json.c_str());
    return;
  }
  if (list.names.empty()) {
    std::printf("no models\n");
    return;
  }
  // The state comes from the status; without it (an older daemon) the names alone are shown.
  client::Status st;
  bool have_status = true;
  try {
    st = c.status();
  } catch (const client::Error&) {
    have_status = false;
  }
  std::vector<std::vector<std::string>> rows{{"MODEL", "STATE", "PATH"}};
  for (const auto& name : list.names) {
    std::string state = have_status ? "-" : "", path;
    for (const auto& m : st.models)
      if (m.name == name) {
        state = model_state(m);
        path = m.path;
      }
    rows.push_back({name, state, path});
  }
  print_table(rows);
}

void add(CLI::App& app, const char* name, const char* help, void (*action)(const StatusOptions&)) {
  auto o = std::make_shared<StatusOptions>();
  auto* sub = app.add_subcommand(name, help);
  sub->add_flag("--json", o->json, "Print the daemon's JSON");
  add_daemon_options(sub, o->daemon);
  sub->callback([o, action] { run_client_command([&] { action(*o); }); });
}

}  // namespace

void add_status(CLI::App& app) { add(app, "status", "The daemon's models, memory, queues and sessions", status); }
void add_models(CLI::App& app) { add(app, "models", "The models the daemon serves", models); }

}  // namespace strata::cli
