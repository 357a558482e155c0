#include "tests/support/daemon_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/test_paths.h"

namespace strata::test {

bool socket_accepts(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

DaemonProcess::DaemonProcess(DaemonOptions o) {
  dir_ = temp_dir("stratad");
  socket_ = dir_ / "stratad.sock";
  log_path_ = dir_ / "stratad.log";
  std::vector<std::string> argv = o.command_prefix;
  argv.push_back(bin_path("stratad").string());
  if (o.use_socket_option) {
    argv.push_back("--socket");
    argv.push_back(socket_.string());
  }
  argv.push_back("--state-dir");
  argv.push_back((o.state_dir.empty() ? dir_ / "state" : o.state_dir).string());
  if (!o.config_text.empty()) {
    config_ = dir_ / "stratad.toml";
    std::ofstream(config_) << o.config_text;
    argv.push_back("--config");
    argv.push_back(config_.string());
  }
  if (o.tiny_model) {
    argv.push_back("--model");
    argv.push_back("tiny=" + shared_path("models/llama-2-tiny-random.gguf").string());
  }
  argv.insert(argv.end(), o.extra_args.begin(), o.extra_args.end());

  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot create " + log_path_.string());
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // If the test dies, so does its daemon.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int null_fd = ::open("/dev/null", O_RDWR);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(log_fd, 2);
    // The daemon must not see the test's own systemd variables.
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_PID");
    ::unsetenv("WATCHDOG_USEC");
    for (const auto& [k, v] : o.env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  ::close(log_fd);
  if (o.wait_ready && !wait_ready(o.ready_timeout_s))
    throw std::runtime_error("stratad did not come up; its log:\n" + log());
}

DaemonProcess::~DaemonProcess() {
  // A daemon still running is stopped here, and must exit cleanly (a sanitizer finding or a
  // crash during shutdown shows up as another status).
  if (running()) {
    const int code = stop(30);
    if (code != 0) ADD_FAILURE() << "stratad exited with status " << code << " when stopped; its log:\n" << log();
  }
}

void DaemonProcess::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool DaemonProcess::running() {
  if (pid_ <= 0 || exit_code_ >= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_code_ = r == pid_ ? (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) : 255;
  return false;
}

bool DaemonProcess::wait_ready(int timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (socket_accepts(socket_)) return true;
    if (!running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int DaemonProcess::stop(int timeout_s) {
  if (!running()) return exit_code_;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return exit_code_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exit_code_ = 128 + SIGKILL;
  return -1;
}

std::string DaemonProcess::log() const {
  std::ifstream f(log_path_);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool DaemonProcess::wait_for_log(const std::string& text, int timeout_ms) const {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (log().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace strata::test
