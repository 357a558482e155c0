#include "daemon/app/stop_signals.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace strata::daemon {
namespace {

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

int open_signalfd() {
  StopSignals::block();
  const sigset_t set = stop_signal_set();
  const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  return fd;
}

}  // namespace

void StopSignals::block() {
  const sigset_t set = stop_signal_set();
  if (const int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0)
    throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
}

StopSignals::StopSignals(boost::asio::io_context& io) : fd_(io, open_signalfd()) {}

void StopSignals::listen(std::function<void(int)> on_signal) {
  on_signal_ = std::move(on_signal);
  listening_ = true;
  read_next();
}

void StopSignals::cancel() {
  boost::system::error_code ec;
  fd_.cancel(ec);
  listening_ = false;
}

void StopSignals::read_next() {
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
    if (ec || !listening_) return;
    signalfd_siginfo info{};
    // Each read returns whole records; the descriptor is non-blocking, so drain what is there.
    while (::read(fd_.native_handle(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      on_signal_(static_cast<int>(info.ssi_signo));
      if (!listening_) return;  // the handler cancelled us
    }
    read_next();
  });
}

}  // namespace strata::daemon
