// Leveled logging to stderr, one line per message, friendly to journald: when stderr is the
// journal (systemd sets JOURNAL_STREAM) each line starts with a "<N>" priority prefix and no
// timestamp (the journal adds its own); otherwise lines carry a UTC timestamp and the level name.
//
// Messages must never contain secrets (tokens, request bodies): callers log names, sizes, counts.
// Thread-safe: each message is written with one write(2).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

namespace strata::daemon {

enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3 };

// "error", "warn", "info", "debug"; std::nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view log_level_name(LogLevel level);

class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::Info, int fd = 2);

  void set_level(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
  LogLevel level() const { return level_.load(std::memory_order_relaxed); }
  bool enabled(LogLevel level) const { return level <= this->level(); }

  void log(LogLevel level, std::string_view message) const;
  void error(std::string_view m) const { log(LogLevel::Error, m); }
  void warn(std::string_view m) const { log(LogLevel::Warn, m); }
  void info(std::string_view m) const { log(LogLevel::Info, m); }
  void debug(std::string_view m) const {
    if (enabled(LogLevel::Debug)) log(LogLevel::Debug, m);
  }

 private:
  std::atomic<LogLevel> level_;
  int fd_;
  bool journal_;  // stderr is connected to the journal
};

}  // namespace strata::daemon
