// One background thread that runs I/O jobs in submission order. The tiered store queues the
// reads of the next SSD-tier layers here, so they proceed while the decoder computes; a job
// reports its own outcome (the store's slots carry errors back to the waiting decoder).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace strata {

class IoThread {
 public:
  IoThread();
  ~IoThread();  // finishes the running job, drops queued ones
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  // `job` must not throw.
  void submit(std::function<void()> job);

 private:
  void main();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace strata
