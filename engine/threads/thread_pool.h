// ThreadPool: a persistent fork-join pool for the decoder's hot loop.
//
// Decoding runs hundreds of small parallel matrix products per token, so one dispatch (wake the
// workers, run, wait for all) must cost a few microseconds. Workers therefore spin briefly on an
// atomic after each job (kSpinTime) and only then block in a futex-backed std::atomic::wait, so a
// busy decode loop never pays a sleep/wake round trip per matmul while an idle daemon uses no CPU.
//
//   ThreadPool pool(4);                       // the caller + 3 workers
//   pool.run([&](int ith, int nth) { ... });  // ith 0 runs on the calling thread
//   pool.parallel_for(rows, 16, [&](int64_t begin, int64_t end) { ... });
//
// Threading contract: one thread at a time calls run()/parallel_for() (the "caller"); fn must not
// call run() on the same pool (not reentrant). Both misuses are detected and throw rather than
// deadlock. Exceptions thrown by fn on any thread are captured; after every thread has finished,
// the first one captured is rethrown in the caller.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/threads/function_ref.h"

namespace strata {

class ThreadPool {
 public:
  using Task = FunctionRef<void(int ith, int nth)>;
  using RangeTask = FunctionRef<void(int64_t begin, int64_t end)>;

  // How long a worker (and the caller, waiting for the workers) spins before it blocks; after
  // the first few microseconds the spin yields the core between rounds.
  static constexpr std::chrono::microseconds kSpinTime{50};

  // n_threads >= 1 is the total number of threads including the caller (n_threads - 1 workers are
  // started); 0 means std::thread::hardware_concurrency(). Throws strata::Error(InvalidArgument)
  // for a negative count and strata::Error(Internal) if a worker thread cannot be started.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();  // wakes and joins the workers; must not run concurrently with run()

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const noexcept { return n_threads_; }

  // Runs fn(ith, nth) with nth = size() on every thread of the pool, the caller being ith 0, and
  // returns when all calls have returned. A pool of size 1 just calls fn(0, 1).
  void run(Task fn);

  // Splits [0, n) into chunks [begin, end) of `grain` indices (the last one may be shorter) and
  // hands them out dynamically through an atomic counter, so uneven chunks balance themselves.
  // Every index is visited exactly once; fn is never called with an empty range. grain == 0 picks
  // about four chunks per thread; grain < 0 throws strata::Error(InvalidArgument). A range that fits
  // in one chunk runs inline on the caller without waking the workers. After an exception the
  // remaining chunks are abandoned and the first exception is rethrown.
  void parallel_for(int64_t n, int64_t grain, RangeTask fn);

 private:
  void worker_main(int ith);
  void record_error(std::exception_ptr e) noexcept;
  void stop_workers() noexcept;

  int n_threads_ = 1;
  std::vector<std::thread> workers_;

  // Written by the caller, read (spun on) by the workers: one cache line of its own so that the
  // workers' decrements of pending_ do not invalidate it.
  alignas(64) std::atomic<uint32_t> generation_{0};  // bumped once per dispatch (release)
  const Task* task_ = nullptr;                        // the job; published by generation_
  std::atomic<bool> stop_{false};                     // published by generation_

  // Written by the workers, spun on by the caller.
  alignas(64) std::atomic<uint32_t> pending_{0};  // workers that have not finished this dispatch

  // Cold state: misuse detection and exception capture.
  alignas(64) std::atomic<bool> busy_{false};  // a dispatch is in progress
  std::mutex error_mu_;
  std::exception_ptr error_;  // first exception of this dispatch; guarded by error_mu_
};

}  // namespace strata
