// Runs the real stratad for a test: a temporary socket and state directory, the shared tiny
// model as "tiny", stderr captured to a log file. The destructor stops it (SIGTERM, then
// SIGKILL after a timeout), so a failing test never leaves a daemon behind.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace strata::test {

struct DaemonOptions {
  bool tiny_model = true;                                // --model tiny=<shared tiny model>
  std::string config_text;                               // when not empty: written to a file passed with --config
  std::vector<std::string> extra_args;                   // appended to stratad's arguments
  std::vector<std::pair<std::string, std::string>> env;  // set in the daemon's environment
  std::vector<std::string> command_prefix;               // e.g. {"/usr/bin/systemd-socket-activate", "-l", PATH}
  bool use_socket_option = true;                         // pass --socket <dir>/stratad.sock
  std::filesystem::path state_dir;                       // --state-dir; empty: <dir>/state (a restart reuses one)
  bool wait_ready = true;                                // wait until the socket accepts connections
  int ready_timeout_s = 20;
};

class DaemonProcess {
 public:
  explicit DaemonProcess(DaemonOptions options = {});
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& socket() const { return socket_; }
  const std::filesystem::path& config_path() const { return config_; }
  pid_t pid() const { return pid_; }

  // Sends a signal to the daemon.
  void signal(int sig) const;
  // Sends SIGTERM and waits; returns the exit status (128 + signal when killed), or -1 when it
  // did not exit within `timeout_s` (it is then killed).
  int stop(int timeout_s = 30);
  // Whether the process still runs (reaps it when it has exited).
  bool running();
  // Waits for the socket to accept a connection; false on timeout or when the daemon exited.
  bool wait_ready(int timeout_s);
  // What the daemon wrote to stderr so far.
  std::string log() const;
  // Waits until the log contains `text` (log lines can trail the event a test saw); false on timeout.
  bool wait_for_log(const std::string& text, int timeout_ms = 10000) const;

 private:
  std::filesystem::path dir_, socket_, config_, log_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Whether a Unix stream socket at `path` accepts a connection now.
bool socket_accepts(const std::filesystem::path& path);

}  // namespace strata::test
