// strata run [--model M] [--session ID] [--max-tokens N] [--temp T] [--seed S] [--json] [PROMPT...]
// One generation through the daemon, streamed to stdout. The prompt is the arguments, stdin, or
// both (arguments, a blank line, then stdin: `git diff | strata run "review this"`).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "sdk/cli/client_common.h"
#include "sdk/cli/commands.h"

namespace strata::cli {

namespace {

struct RunOptions {
  DaemonOptions daemon;
  std::string model;
  std::string session;
  int32_t max_tokens = 0;
  double temperature = 0;
  uint64_t seed = 0;
  bool has_max_tokens = false, has_temperature = false, has_seed = false;
  bool json = false;
  std::vector<std::string> words;
};

std::string read_stdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) {
    if (!s.empty()) s += ' ';
    s += w;
  }
  return s;
}

void run(const RunOptions& o) {
  const std::string args = join(o.words);
  // stdin is read when it is redirected, or when there are no arguments (then a terminal's
  // input up to Ctrl-D is the prompt).
  const std::string input = (!stdin_is_tty() || args.empty()) ? read_stdin() : std::string();
  const std::string prompt = args.empty() ? input : input.empty() ? args : args + "\n\n" + input;
  if (prompt.empty()) throw UsageError("no prompt: give it as arguments or on stdin");

  client::Client c = connect_daemon(o.daemon);
  client::GenerateRequest req;
  req.prompt = prompt;
  req.session = o.session;
  req.model = o.model;
  if (req.model.empty() && !o.session.empty() && !std::getenv("STRATA_MODEL"))
    req.model = c.session(o.session).model;  // continue with the session's own model
  req.model = resolve_model(c, req.model);
  if (o.has_max_tokens) req.max_tokens = o.max_tokens;
  if (o.has_temperature) req.temperature = o.temperature;
  if (o.has_seed) req.seed = o.seed;

  std::unique_ptr<LoadingIndicator> loading = indicate_loading(c, req.model);
  client::Response r;
  if (o.json) {
    r = c.generate(req);
    loading.reset();
    std::fwrite(r.json.data(), 1, r.json.size(), stdout);
    std::fputc('\n', stdout);
  } else {
    r = generate_to_stdout(c, req, std::move(loading));
  }
  std::fflush(stdout);
  if (stderr_is_tty() && !r.session.empty())
    std::fprintf(stderr, "session %s (continue: strata run --session %s ...)\n", r.session.c_str(), r.session.c_str());
}

}  // namespace

void add_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand("run", "Generate through the daemon: the prompt is the arguments and/or stdin");
  sub->add_option("-m,--model", o->model, "Model name (default: $STRATA_MODEL, else the session's, else the daemon's first)");
  sub->add_option("-s,--session", o->session, "Continue this session (its id is printed on stderr at a terminal)");
  sub->add_option("-n,--max-tokens", o->max_tokens, "Tokens to generate at most (default: the daemon's)")->check(CLI::NonNegativeNumber);
  sub->add_option("--temp", o->temperature, "Temperature; 0 is greedy (default: the daemon's)")->check(CLI::NonNegativeNumber);
  sub->add_option("--seed", o->seed, "Random seed (default: random)");
  sub->add_flag("--json", o->json, "Print the daemon's response object instead of streaming the text");
  add_daemon_options(sub, o->daemon);
  sub->add_option("prompt", o->words, "Prompt words (joined by spaces); stdin, when redirected, follows a blank line");
  sub->callback([o, sub] {
    RunOptions copy = *o;
    copy.has_max_tokens = sub->count("--max-tokens") > 0;
    copy.has_temperature = sub->count("--temp") > 0;
    copy.has_seed = sub->count("--seed") > 0;
    run_client_command([&] { run(copy); });
  });
}

}  // namespace strata::cli
