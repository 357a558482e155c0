// strata chat [--model M] [--session ID]: an interactive conversation kept in a daemon session.
// Each line read from stdin is sent on the native route, appended to the session's context (the
// history stays in the daemon and is never resent); the reply streams to stdout. `/exit` or the
// end of input ends the chat.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "sdk/cli/client_common.h"
#include "sdk/cli/commands.h"

namespace strata::cli {

namespace {

struct ChatOptions {
  DaemonOptions daemon;
  std::string model;
  std::string session;
  int32_t max_tokens = 0;
  double temperature = 0;
  bool has_max_tokens = false, has_temperature = false;
};

void chat(const ChatOptions& o) {
  client::Client c = connect_daemon(o.daemon);
  std::string session = o.session;
  std::string model = o.model;
  if (model.empty() && !session.empty() && !std::getenv("STRATA_MODEL")) model = c.session(session).model;
  model = resolve_model(c, model);

  const bool interactive = stdin_is_tty();
  if (interactive)
    std::fprintf(stderr, "chatting with %s%s%s; /exit or Ctrl-D ends\n", model.c_str(),
                 session.empty() ? "" : ", session ", session.c_str());
  std::string line;
  for (;;) {
    if (interactive) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit" || line == "/quit") break;
    if (line.empty()) continue;

    client::GenerateRequest req;
    req.model = model;
    req.session = session;
    req.prompt = line + "\n";
    if (o.has_max_tokens) req.max_tokens = o.max_tokens;
    if (o.has_temperature) req.temperature = o.temperature;
    client::Response r = generate_to_stdout(c, req, indicate_loading(c, model));
    session = r.session;
  }
  if (interactive) std::fputc('\n', stdout);
  if (stderr_is_tty() && !session.empty())
    std::fprintf(stderr, "session %s (continue: strata chat --session %s)\n", session.c_str(), session.c_str());
}

}  // namespace

void add_chat(CLI::App& app) {
  auto o = std::make_shared<ChatOptions>();
  auto* sub = app.add_subcommand("chat", "Chat with a model: lines from stdin, replies streamed; /exit or EOF ends");
  sub->add_option("-m,--model", o->model, "Model name (default: $STRATA_MODEL, else the session's, else the daemon's first)");
  sub->add_option("-s,--session", o->session, "Continue this session");
  sub->add_option("-n,--max-tokens", o->max_tokens, "Tokens per reply at most (default: the daemon's)")->check(CLI::NonNegativeNumber);
  sub->add_option("--temp", o->temperature, "Temperature; 0 is greedy (default: the daemon's)")->check(CLI::NonNegativeNumber);
  add_daemon_options(sub, o->daemon);
  sub->callback([o, sub] {
    ChatOptions copy = *o;
    copy.has_max_tokens = sub->count("--max-tokens") > 0;
    copy.has_temperature = sub->count("--temp") > 0;
    run_client_command([&] { chat(copy); });
  });
}

}  // namespace strata::cli
