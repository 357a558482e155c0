#include "sdk/cli/client_common.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "sdk/cli/commands.h"

namespace strata::cli {

void add_daemon_options(CLI::App* sub, DaemonOptions& o) {
  sub->add_option("--socket", o.socket,
                  "The daemon's Unix socket (default: $STRATA_SOCKET, else $XDG_RUNTIME_DIR/strata/stratad.sock, "
                  "else /run/strata/stratad.sock)");
  sub->add_option("--tcp", o.tcp, "Connect over TCP to HOST:PORT instead (bearer token from $STRATA_TOKEN)");
}

client::Client connect_daemon(const DaemonOptions& o) {
  client::Options opts;
  opts.socket_path = o.socket;
  opts.tcp_address = o.tcp;
  if (const char* token = std::getenv("STRATA_TOKEN")) opts.bearer_token = token;
  return client::Client(opts);
}

void run_client_command(const std::function<void()>& body) {
  try {
    body();
    return;
  } catch (const client::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "strata: error: %s\n", e.what());
    if (e.code() == STRATA_ERR_CONNECT) {
      std::fprintf(stderr, "strata: is stratad running? (systemctl status stratad, or systemctl --user status stratad)\n");
      g_exit_code = kExitUnreachable;
    } else if (e.code() == STRATA_ERR_INVALID_ARGUMENT) {
      g_exit_code = kExitUsage;
    } else {
      g_exit_code = kExitFailure;
    }
  } catch (const UsageError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "strata: error: %s\n", e.what());
    g_exit_code = kExitUsage;
  }
}

std::string resolve_model(client::Client& c, const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("STRATA_MODEL"); env && *env) return env;
  client::ModelList models = c.models();
  if (models.names.empty()) throw client::Error(STRATA_ERR_NOT_FOUND, 0, "stratad serves no model");
  return models.names.front();
}

bool stdin_is_tty() { return ::isatty(STDIN_FILENO) == 1; }
bool stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

LoadingIndicator::LoadingIndicator(std::string label) : label_(std::move(label)) {
  thread_ = std::thread([this] {
    static const char* const kFrames[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_);
    // Nothing for a quick answer: the spinner appears only when the wait is noticeable.
    if (cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; })) return;
    for (int frame = 0; !stopping_; ++frame) {
      const auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "\r%s %s… %llds", kFrames[frame % 10], label_.c_str(), static_cast<long long>(s));
      std::fflush(stderr);
      cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; });
    }
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  });
}

void LoadingIndicator::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<LoadingIndicator> indicate_loading(client::Client& c, const std::string& model) {
  if (!stderr_is_tty()) return nullptr;
  client::Status st;
  try {
    st = c.status();
  } catch (const client::Error&) {
    return nullptr;  // the status is a nicety; the request itself reports real failures
  }
  for (const auto& m : st.models)
    if (m.name == model && (m.loading || !m.loaded)) return std::make_unique<LoadingIndicator>("loading model " + model);
  return nullptr;
}

std::string human_bytes(int64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

std::string human_duration(double seconds) {
  const long long s = seconds > 0 ? static_cast<long long>(seconds) : 0;
  char buf[48];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm %02llds", s / 60, s % 60);
  else if (s < 86400) std::snprintf(buf, sizeof buf, "%lldh %02lldm", s / 3600, s / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%lldd %02lldh", s / 86400, s / 3600 % 24);
  return buf;
}

std::string human_age(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "-";
  const int64_t age = static_cast<int64_t>(std::time(nullptr)) - unix_seconds;
  if (age < 5) return "just now";
  char buf[32];
  if (age < 60) std::snprintf(buf, sizeof buf, "%llds ago", static_cast<long long>(age));
  else if (age < 3600) std::snprintf(buf, sizeof buf, "%lldm ago", static_cast<long long>(age / 60));
  else if (age < 86400) std::snprintf(buf, sizeof buf, "%lldh ago", static_cast<long long>(age / 3600));
  else std::snprintf(buf, sizeof buf, "%lldd ago", static_cast<long long>(age / 86400));
  return buf;
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

client::Response generate_to_stdout(client::Client& c, const client::GenerateRequest& req,
                                    std::unique_ptr<LoadingIndicator> loading) {
  char last = '\n';
  client::Response r = c.generate(req, [&](int32_t, std::string_view text) {
    if (loading) loading.reset();
    if (text.empty()) return true;
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    last = text.back();
    return true;
  });
  loading.reset();
  if (last != '\n') std::fputc('\n', stdout);
  std::fflush(stdout);
  return r;
}

}  // namespace strata::cli
