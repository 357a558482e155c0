#include "daemon/app/daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <ctime>
#include <filesystem>

#include "daemon/api/api.h"
#include "daemon/app/stop_signals.h"
#include "daemon/log/logger.h"
#include "daemon/metrics/metrics.h"
#include "daemon/models/model_registry.h"
#include "daemon/server/http_server.h"
#include "daemon/server/listen_address.h"
#include "daemon/server/socket_setup.h"
#include "daemon/sessions/session_snapshots.h"
#include "daemon/sessions/session_store.h"
#include "daemon/systemd/systemd.h"
#include "engine/core/version.h"

namespace strata::daemon {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

ServerLimits server_limits(const Config& c) {
  return {c.max_body_bytes, c.max_connections, c.keep_alive_seconds, c.max_import_bytes};
}

bool is_loopback_socket(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  if (ss.ss_family == AF_INET) return (ntohl(reinterpret_cast<sockaddr_in*>(&ss)->sin_addr.s_addr) >> 24) == 127;
  if (ss.ss_family == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr);
  return false;
}

}  // namespace

Config load_effective_config(const ConfigSources& sources) {
  const Environment env = Environment::from_process();
  Config config = default_config(env);
  if (auto file = find_config_file(sources.config_path, env)) config = load_config_file(*file, std::move(config));
  apply_overrides(config, sources.overrides);
  validate(config);
  return config;
}

struct Daemon::Impl {
  Impl(ConfigSources s, Config c, Logger& l)
      : sources(std::move(s)),
        config(std::move(c)),
        log(l),
        signals(io),
        housekeeping(io),
        watchdog(io),
        stop_timer(io),
        sessions(static_cast<size_t>(config.max_sessions)),
        models(
            log, [this](std::function<void()> f) { asio::post(io, std::move(f)); },
            [this](const std::string& model) {
              // The KV goes with the model: save what changed first (bounded), keep the history.
              if (snapshots)
                snapshots->save_all(sessions, model,
                                    Clock::now() + std::chrono::seconds(config.snapshot_shutdown_seconds));
              sessions.drop_kv(model);
            }),
        api(ApiContext{log, models, sessions, metrics,
                       [this](std::function<void()> f) { asio::post(io, std::move(f)); },
                       [this] { return server ? server->connection_count() : 0; }, Clock::now()},
            config) {}

  void open_listeners();
  void open_snapshots();
  void on_signal(int sig);
  void reload();
  void begin_stop();
  void check_stop();
  void tick();
  void ping_watchdog();
  std::string status_line() const {
    return "serving " + std::to_string(config.models.size()) + " model(s) on " + socket_description;
  }
  // What `systemctl status` shows while serving: models, sessions, requests.
  std::string busy_line() const {
    size_t loaded = 0;
    for (const auto& m : models.status()) loaded += m.loaded ? 1 : 0;
    return status_line() + "; " + std::to_string(loaded) + " loaded, " + std::to_string(sessions.size()) +
           " session(s), " + std::to_string(api.in_flight()) + " request(s) in flight";
  }

  ConfigSources sources;
  Config config;
  Logger& log;
  // Destroyed last: everything below may hold handlers or post to it.
  asio::io_context io{1};
  StopSignals signals;
  asio::steady_timer housekeeping, watchdog, stop_timer;
  Metrics metrics;
  SessionStore sessions;
  std::unique_ptr<SessionSnapshots> snapshots;  // null when snapshots are off or could not open
  ModelRegistry models;
  Api api;
  std::unique_ptr<HttpServer> server;
  std::string socket_description;
  std::string last_status;     // the last STATUS= sent
  std::string created_socket;  // our socket file, removed at exit
  ino_t created_inode = 0;
  bool stopping = false, cancelled = false;
  Clock::time_point cancel_at, give_up_at;
  std::optional<std::chrono::microseconds> watchdog_interval;
};

void Daemon::Impl::open_listeners() {
  server = std::make_unique<HttpServer>(io, api, log, server_limits(config));
  std::optional<BearerToken> token;
  if (!config.tcp_token_file.empty() && (!config.tcp_listen.empty())) token = load_token_file(config.tcp_token_file);

  const auto inherited = systemd::inherited_sockets();
  if (!inherited.empty()) {
    for (const auto& s : inherited) {
      if (s.unix_socket) {
        server->add_unix_listener(s.fd);
        socket_description += (socket_description.empty() ? "" : ", ") + std::string("an activated Unix socket");
      } else {
        if (!is_loopback_socket(s.fd))
          throw std::runtime_error("socket activation passed a TCP socket that is not bound to loopback; refusing it");
        if (config.tcp_token_file.empty())
          throw std::runtime_error("socket activation passed a TCP socket but server.tcp_token_file is not set");
        if (!token) token = load_token_file(config.tcp_token_file);
        server->add_tcp_listener(s.fd, *token);
        socket_description += (socket_description.empty() ? "" : ", ") + std::string("an activated TCP socket");
      }
    }
    log.info("using " + std::to_string(inherited.size()) + " socket(s) from systemd socket activation");
    return;
  }

  const int fd = bind_unix_socket(config.socket, log);
  struct stat st {};
  if (::stat(config.socket.c_str(), &st) == 0) created_inode = st.st_ino;
  created_socket = config.socket;
  server->add_unix_listener(fd);
  socket_description = config.socket;
  log.info("listening on " + config.socket);
  if (!config.tcp_listen.empty()) {
    std::string why;
    const auto addr = parse_loopback_address(config.tcp_listen, why);
    if (!addr) throw std::runtime_error("server.tcp_listen " + why);
    const int tfd = bind_tcp_socket(*addr);
    server->add_tcp_listener(tfd, *token);
    const std::string where =
        (addr->ipv6 ? "[" + addr->host + "]" : addr->host) + ":" + std::to_string(local_port(tfd));
    socket_description += " and tcp " + where;
    log.info("listening on tcp " + where + " (bearer token required)");
  }
}

void Daemon::Impl::open_snapshots() {
  if (!config.snapshots_enabled) return;
  const auto dir = std::filesystem::path(config.state_dir) / "snapshots";
  try {
    snapshots = std::make_unique<SessionSnapshots>(dir, config, log);
  } catch (const std::exception& e) {
    // Serving without persistence beats not serving: say so loudly.
    log.error(std::string("snapshots are off for this run: ") + e.what());
    return;
  }
  sessions.set_snapshots(snapshots.get());
  const size_t n = snapshots->load_sessions(sessions);
  log.info("snapshots: " + std::to_string(n) + " session(s) loaded from " + dir.string() + " (" +
           std::to_string(snapshots->disk_bytes()) + " bytes of KV on disk)");
}

void Daemon::Impl::on_signal(int sig) {
  if (sig == SIGHUP) return reload();
  if (!stopping) return begin_stop();
  // A second SIGTERM/SIGINT: stop now.
  log.warn("second stop signal: cancelling every request");
  give_up_at = Clock::now();
}

void Daemon::Impl::reload() {
  if (stopping) return;
  systemd::notify_reloading();
  log.info("SIGHUP: reloading the configuration");
  try {
    Config next = load_effective_config(sources);
    if (next.socket != config.socket || next.tcp_listen != config.tcp_listen ||
        next.tcp_token_file != config.tcp_token_file)
      log.warn("server.socket, server.tcp_listen and server.tcp_token_file changes take effect after a restart");
    if (next.state_dir != config.state_dir) log.warn("daemon.state_dir changes take effect after a restart");
    // Listener settings stay as bound.
    next.socket = config.socket;
    next.tcp_listen = config.tcp_listen;
    next.tcp_token_file = config.tcp_token_file;
    next.state_dir = config.state_dir;
    config = std::move(next);
    log.set_level(parse_log_level(config.log_level).value_or(LogLevel::Info));
    models.configure(config);
    api.configure(config);
    server->set_limits(server_limits(config));
    sessions.set_limit(static_cast<size_t>(config.max_sessions));
    if (snapshots) snapshots->configure(config);
    log.info("configuration reloaded: " + std::to_string(config.models.size()) + " model(s)");
    systemd::notify_ready(status_line());
  } catch (const std::exception& e) {
    log.error(std::string("reload failed, keeping the previous configuration: ") + e.what());
    systemd::notify_ready("reload failed: " + std::string(e.what()) + "; " + status_line());
  }
}

void Daemon::Impl::begin_stop() {
  stopping = true;
  systemd::notify_stopping("stopping: finishing " + std::to_string(api.in_flight()) + " request(s)");
  log.info("stopping: no new connections; " + std::to_string(api.in_flight()) + " request(s) in flight");
  server->stop_accepting();
  housekeeping.cancel();
  const auto now = Clock::now();
  cancel_at = now + std::chrono::seconds(config.shutdown_timeout_seconds);
  give_up_at = cancel_at + std::chrono::seconds(5);
  check_stop();
}

void Daemon::Impl::check_stop() {
  const auto now = Clock::now();
  if (api.in_flight() == 0 || now >= give_up_at) {
    if (api.in_flight() > 0) log.warn(std::to_string(api.in_flight()) + " request(s) did not finish in time");
    server->close_all();
    watchdog.cancel();
    signals.cancel();
    io.stop();
    return;
  }
  if (!cancelled && now >= cancel_at) {
    cancelled = true;
    log.warn("shutdown timeout: cancelling " + std::to_string(api.in_flight()) + " request(s)");
    api.cancel_all();
  }
  stop_timer.expires_after(std::chrono::milliseconds(20));
  stop_timer.async_wait([this](error_code ec) {
    if (!ec) check_stop();
  });
}

void Daemon::Impl::tick() {
  housekeeping.expires_after(std::chrono::seconds(1));
  housekeeping.async_wait([this](error_code ec) {
    if (ec || stopping) return;
    models.unload_idle(Clock::now());
    if (snapshots) snapshots->save_idle(sessions, static_cast<int64_t>(std::time(nullptr)));
    if (std::string line = busy_line(); line != last_status) {
      systemd::notify_status(line);
      last_status = std::move(line);
    }
    tick();
  });
}

void Daemon::Impl::ping_watchdog() {
  systemd::notify_watchdog();
  watchdog.expires_after(*watchdog_interval);
  watchdog.async_wait([this](error_code ec) {
    if (!ec) ping_watchdog();
  });
}

Daemon::Daemon(ConfigSources sources, Config config, Logger& log)
    : impl_(std::make_unique<Impl>(std::move(sources), std::move(config), log)) {}

Daemon::~Daemon() = default;

int Daemon::run() {
  Impl& d = *impl_;
  try {
    std::error_code ec;
    // A directory made here is private; an existing one (systemd's StateDirectory=) keeps its mode.
    if (std::filesystem::create_directories(d.config.state_dir, ec)) ::chmod(d.config.state_dir.c_str(), 0700);
    if (ec) throw std::runtime_error(d.config.state_dir + ": cannot create the state directory: " + ec.message());
    d.models.configure(d.config);
    d.open_snapshots();
    d.open_listeners();
  } catch (const std::exception& e) {
    d.log.error(std::string("cannot start: ") + e.what());
    systemd::notify_status(std::string("failed to start: ") + e.what());
    return 1;
  }
  d.server->start();
  d.signals.listen([&d](int sig) { d.on_signal(sig); });
  d.tick();
  d.watchdog_interval = systemd::watchdog_ping_interval();
  if (d.watchdog_interval) d.ping_watchdog();
  d.log.info(std::string("stratad ") + version_string() + " ready: " + d.status_line());
  systemd::notify_ready(d.status_line());

  d.io.run();

  // Stopping already: check_stop() stopped listening, so a further SIGTERM/SIGINT/SIGHUP stays
  // pending (blocked, see stop_signals.h) and neither kills us half-way nor restarts anything.

  // Stopped: unload the models (their schedulers finish cancelled requests), then let the
  // handlers that posted run, so that connections and jobs are released on this thread.
  d.models.shutdown();
  d.io.restart();
  d.io.poll();
  d.server.reset();
  d.io.restart();
  d.io.poll();
  // The sessions have their sequences back now: save what changed, within the bound.
  if (d.snapshots) {
    d.snapshots->save_all(d.sessions, "", Clock::now() + std::chrono::seconds(d.config.snapshot_shutdown_seconds));
    d.sessions.set_snapshots(nullptr);
  }
  if (!d.created_socket.empty()) {
    struct stat st {};
    if (::lstat(d.created_socket.c_str(), &st) == 0 && st.st_ino == d.created_inode) ::unlink(d.created_socket.c_str());
  }
  d.log.info("stopped");
  return 0;
}

}  // namespace strata::daemon
