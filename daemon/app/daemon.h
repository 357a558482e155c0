// The daemon's life: binds (or inherits) the listening sockets, serves until SIGTERM, reloads
// the configuration on SIGHUP, and tells systemd about each step.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "daemon/config/config.h"

namespace strata::daemon {

class Logger;

// Where the configuration came from, so that SIGHUP reads it again the same way.
struct ConfigSources {
  std::optional<std::string> config_path;  // --config
  CommandLineOverrides overrides;
};

// Reads defaults, the configuration file and the overrides. Throws ConfigError.
Config load_effective_config(const ConfigSources& sources);

class Daemon {
 public:
  Daemon(ConfigSources sources, Config config, Logger& log);
  ~Daemon();
  // Serves until SIGTERM/SIGINT. Returns the exit status: 0 after a clean stop, 1 when the
  // daemon could not start (the reason is logged).
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::daemon
