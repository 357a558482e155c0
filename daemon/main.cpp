// stratad: the Strata inference daemon. See docs/config.md and docs/protocol.md.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "daemon/app/daemon.h"
#include "daemon/app/stop_signals.h"
#include "daemon/log/logger.h"
#include "engine/core/version.h"

int main(int argc, char** argv) {
  using namespace strata::daemon;
  std::signal(SIGPIPE, SIG_IGN);
  // Before any thread exists: every thread inherits the mask, and the daemon reads the stop
  // signals from a descriptor (daemon/app/stop_signals.h).
  StopSignals::block();

  CLI::App app{"stratad: local LLM inference daemon (HTTP/1.1 + JSON over a Unix socket)", "stratad"};
  ConfigSources sources;
  std::string config_path, socket, state_dir, log_level;
  bool print = false, version = false;
  app.add_option("-c,--config", config_path,
                 "Configuration file (default: $XDG_CONFIG_HOME/strata/stratad.toml, then /etc/strata/stratad.toml)");
  app.add_option("--socket", socket, "Unix socket path (overrides server.socket)");
  app.add_option("--state-dir", state_dir, "State directory (overrides daemon.state_dir)");
  app.add_option("--model", sources.overrides.models, "Add or override a model: NAME=PATH (repeatable)");
  app.add_option("--log-level", log_level, "error, warn, info or debug (overrides daemon.log_level)");
  app.add_flag("--print-config", print, "Print the effective configuration as TOML and exit");
  app.add_flag("-V,--version", version, "Print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    std::printf("stratad %s\n", strata::version_string());
    return 0;
  }
  if (app.count("--config")) sources.config_path = config_path;
  if (app.count("--socket")) sources.overrides.socket = socket;
  if (app.count("--state-dir")) sources.overrides.state_dir = state_dir;
  if (app.count("--log-level")) sources.overrides.log_level = log_level;

  Config config;
  try {
    config = load_effective_config(sources);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "stratad: %s\n", e.what());
    return 2;
  }
  if (print) {
    std::cout << print_config(config);
    return 0;
  }
  Logger log(parse_log_level(config.log_level).value_or(LogLevel::Info));
  Daemon daemon(std::move(sources), std::move(config), log);
  return daemon.run();
}
