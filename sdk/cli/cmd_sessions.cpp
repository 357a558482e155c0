// strata sessions ls | show ID | rm ID | export ID FILE | import FILE [--json]: the caller's
// sessions in the daemon.
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "sdk/cli/client_common.h"
#include "sdk/cli/commands.h"
#include "sdk/cli/json_out.h"

namespace strata::cli {

namespace {

struct SessionsOptions {
  DaemonOptions daemon;
  std::string id;
  std::string file;  // export, import: the archive
  bool json = false;
};

void print_raw(const std::string& json) { std::printf("%s\n", json.c_str()); }

std::string local_time(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

void list(const SessionsOptions& o) {
  client::Client c = connect_daemon(o.daemon);
  client::SessionList list = c.sessions();
  if (o.json) return print_raw(list.json);
  if (list.sessions.empty()) {
    std::printf("no sessions\n");
    return;
  }
  std::vector<std::vector<std::string>> rows{{"ID", "MODEL", "TOKENS", "KV", "LAST USED"}};
  for (const auto& s : list.sessions)
    rows.push_back({s.id, s.model, std::to_string(s.tokens), human_bytes(s.kv_bytes), human_age(s.last_used)});
  print_table(rows);
}

void show(const SessionsOptions& o) {
  client::Client c = connect_daemon(o.daemon);
  client::Session s = c.session(o.id);
  if (o.json) return print_raw(s.json);
  std::printf("id:        %s\nmodel:     %s\ntokens:    %lld\nkv:        %s\ncreated:   %s\nlast used: %s\n", s.id.c_str(),
              s.model.c_str(), static_cast<long long>(s.tokens), human_bytes(s.kv_bytes).c_str(),
              local_time(s.created).c_str(), local_time(s.last_used).c_str());
  if (!s.text.empty()) {
    std::printf("\n%s", s.text.c_str());
    if (s.text.back() != '\n') std::printf("\n");
  }
}

void remove(const SessionsOptions& o) {
  client::Client c = connect_daemon(o.daemon);
  c.delete_session(o.id);
  if (o.json) return print_json(boost::json::object{{"deleted", o.id}});
  std::printf("deleted %s\n", o.id.c_str());
}

void export_archive(const SessionsOptions& o) {
  client::Client c = connect_daemon(o.daemon);
  c.export_session(o.id, o.file);
  if (o.json) return print_json(boost::json::object{{"exported", o.id}});
  std::printf("exported %s to %s\n", o.id.c_str(), o.file.c_str());
}

void import_archive(const SessionsOptions& o) {
  client::Client c = connect_daemon(o.daemon);
  const std::string id = c.import_session(o.file);
  if (o.json) return print_json(boost::json::object{{"id", id}});
  std::printf("imported %s as session %s\n", o.file.c_str(), id.c_str());
}

CLI::App* leaf(CLI::App* parent, const char* name, const char* help, const std::shared_ptr<SessionsOptions>& o,
               void (*action)(const SessionsOptions&), bool takes_id) {
  auto* sub = parent->add_subcommand(name, help);
  if (takes_id) sub->add_option("id", o->id, "Session id")->required();
  sub->add_flag("--json", o->json, "Print the daemon's JSON");
  add_daemon_options(sub, o->daemon);
  sub->callback([o, action] { run_client_command([&] { action(*o); }); });
  return sub;
}

}  // namespace

void add_sessions(CLI::App& app) {
  auto o = std::make_shared<SessionsOptions>();
  auto* sub = app.add_subcommand("sessions", "List, show, delete, export or import your sessions in the daemon");
  sub->require_subcommand(1);
  leaf(sub, "ls", "List your sessions", o, list, false)->alias("list");
  leaf(sub, "show", "Show one session with its text", o, show, true);
  leaf(sub, "rm", "Delete a session", o, remove, true)->alias("delete");
  leaf(sub, "export", "Write a session (history and KV) to an archive file", o, export_archive, true)
      ->add_option("file", o->file, "Archive file to write")
      ->required();
  leaf(sub, "import", "Import an archive file as a new session of yours", o, import_archive, false)
      ->add_option("file", o->file, "Archive file to read")
      ->required();
}

}  // namespace strata::cli
