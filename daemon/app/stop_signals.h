// SIGTERM, SIGINT and SIGHUP as events on the daemon's io_context, read from a signalfd.
//
// Why not asio::signal_set: it installs a handler, and removing it (at shutdown, or when the
// set is destroyed) puts the default action back, under which a second SIGTERM, sent while we
// are already saving sessions, kills the process half-way with status 143. Here the signals
// are blocked in every thread for the whole life of the process and only ever read from the
// descriptor, so there is no moment at which they act by default.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>

namespace strata::daemon {

class StopSignals {
 public:
  // Blocks the three signals in the calling thread; threads started after inherit the mask.
  // main() calls it first thing, before any thread exists, so that no thread is left where a
  // signal could take its default action.
  static void block();

  // Opens the signalfd (blocking the signals here too). Throws std::system_error.
  explicit StopSignals(boost::asio::io_context& io);

  // Calls `on_signal(signal number)` for each signal that arrives, until cancel().
  void listen(std::function<void(int)> on_signal);
  // Stops listening; signals that arrive later stay pending and are discarded at exit.
  void cancel();

 private:
  void read_next();

  boost::asio::posix::stream_descriptor fd_;
  std::function<void(int)> on_signal_;
  bool listening_ = false;
};

}  // namespace strata::daemon
