#include "daemon/log/logger.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace strata::daemon {
namespace {

// systemd sets JOURNAL_STREAM=DEV:INODE when stdout/stderr are connected to the journal; the
// fd is the journal only when its device and inode match.
bool fd_is_journal(int fd) {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (fstat(fd, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

// syslog priorities: err 3, warning 4, info 6, debug 7.
int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::Error: return 3;
    case LogLevel::Warn: return 4;
    case LogLevel::Info: return 6;
    case LogLevel::Debug: return 7;
  }
  return 6;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "error") return LogLevel::Error;
  if (name == "warn" || name == "warning") return LogLevel::Warn;
  if (name == "info") return LogLevel::Info;
  if (name == "debug") return LogLevel::Debug;
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Error: return "error";
    case LogLevel::Warn: return "warn";
    case LogLevel::Info: return "info";
    case LogLevel::Debug: return "debug";
  }
  return "info";
}

Logger::Logger(LogLevel level, int fd) : level_(level), fd_(fd), journal_(fd_is_journal(fd)) {}

void Logger::log(LogLevel level, std::string_view message) const {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(message.size() + 48);
  if (journal_) {
    line += '<';
    line += static_cast<char>('0' + syslog_priority(level));
    line += '>';
  } else {
    char ts[32];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    line += ts;
    line += log_level_name(level);
    line += ' ';
  }
  // One line per message: embedded newlines would split a journal entry.
  for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;
  line += '\n';
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t w = ::write(fd_, line.data() + off, line.size() - off);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
}

}  // namespace strata::daemon
