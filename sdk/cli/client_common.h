// Shared by the client subcommands (run, chat, sessions, status, models): connecting to the
// daemon through libstrata's C++ wrapper, mapping its errors to exit codes, choosing the model,
// the loading indicator and table output. Nothing here links the engine.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "strata/strata.hpp"

namespace strata::cli {

// --socket PATH / --tcp HOST:PORT; the bearer token comes from $STRATA_TOKEN (never argv,
// which other users can read).
struct DaemonOptions {
  std::string socket;
  std::string tcp;
};
void add_daemon_options(CLI::App* sub, DaemonOptions& o);
client::Client connect_daemon(const DaemonOptions& o);

// A usage error found after parsing (e.g. no prompt at all): exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs a client subcommand's body: errors are printed as one line on stderr, "strata: error:
// ...", and set g_exit_code: 4 when the daemon is unreachable, 2 for UsageError, 1 otherwise.
void run_client_command(const std::function<void()>& body);

// The model: `flag`, else $STRATA_MODEL, else the daemon's first model (GET /v1/models).
std::string resolve_model(client::Client& c, const std::string& flag);

bool stdin_is_tty();
bool stderr_is_tty();

// A spinner with the elapsed time on stderr ("⠹ loading model tiny… 3s"), from 200 ms after
// construction (nothing for a quick answer) to stop(), erased when it stops. Callers create it
// only when stderr is a terminal.
class LoadingIndicator {
 public:
  explicit LoadingIndicator(std::string label);
  ~LoadingIndicator() { stop(); }
  LoadingIndicator(const LoadingIndicator&) = delete;
  LoadingIndicator& operator=(const LoadingIndicator&) = delete;
  void stop();

 private:
  std::string label_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// An indicator while `model` loads: when stderr is a terminal and the daemon's status says the
// model is not loaded yet (it loads on the first request) or is loading. Otherwise null.
std::unique_ptr<LoadingIndicator> indicate_loading(client::Client& c, const std::string& model);

// Generates through the daemon, streaming the text to stdout as it arrives (ending with a
// newline) and stopping `loading` at the first token.
client::Response generate_to_stdout(client::Client& c, const client::GenerateRequest& req,
                                    std::unique_ptr<LoadingIndicator> loading);

std::string human_bytes(int64_t bytes);
std::string human_age(int64_t unix_seconds);  // "5m ago"
std::string human_duration(double seconds);   // "2h 03m"
// Prints rows as left-aligned columns separated by two spaces; rows[0] is the header.
void print_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace strata::cli
