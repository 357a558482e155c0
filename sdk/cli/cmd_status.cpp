// strata status [--json]: the daemon's version, uptime, models and their memory and queues.
// strata models [--json]: the models the daemon serves.
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
  std::vector<std::vector<std::string>> rows{
      {"MODEL", "STATE", "WEIGHTS", "KV", "SCRATCH", "SESSIONS", "RUNNING", "QUEUED", "PATH"}};
  for (const auto& m : st.models)
    rows.push_back({m.name, model_state(m), human_bytes(m.weights_bytes), human_bytes(m.kv_bytes),
                    human_bytes(m.scratch_bytes), std::to_string(m.sessions), std::to_string(m.running),
                    std::to_string(m.queued), m.path});
  print_table(rows);
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
