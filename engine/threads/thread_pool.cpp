// ThreadPool: dispatch protocol and memory-ordering argument.
//
// One dispatch, caller side (run):
//   1. busy_.exchange(true)                      -- detects reentrancy / concurrent callers
//   2. task_ = &fn; pending_ = n - 1             -- plain / relaxed writes
//   3. generation_.fetch_add(1, release)         -- publishes 2. to every worker
//   4. generation_.notify_all()                  -- futex wake only if some worker sleeps
//   5. fn(0, n)
//   6. wait until pending_ == 0 (acquire loads)  -- spin, then atomic::wait
//   7. busy_ = false; rethrow the first captured exception, if any
//
// Worker side (worker_main), with `seen` = the last generation it handled:
//   a. wait until generation_ != seen (acquire loads) -- spin, then atomic::wait
//   b. if stop_: return; otherwise call (*task_)(ith, n)
//   c. pending_.fetch_sub(1, release); the one that reaches 0 calls pending_.notify_one()
//
// Why this is race-free:
// - Publication (3 -> a): the worker's acquire load that observes the new generation reads the
//   value written by the caller's release RMW, so everything the caller wrote before step 3
//   (task_, pending_, and whatever data fn will read) happens-before the worker's call to fn.
// - Completion (c -> 6): each worker's fetch_sub is a release; the fetch_subs form one release
//   sequence on pending_ (RMWs continue a release sequence), so the caller's acquire load that
//   reads 0 synchronizes with every worker's decrement. Hence all of fn's writes on all workers,
//   and any exception they stored in error_, happen-before the caller returns from run().
// - Reuse of task_/error_: the caller only rewrites task_ and reads error_ after step 6, when every
//   worker has passed step c and is back in step a, which reads nothing but generation_ and stop_.
// - pending_ is set to n - 1 before the generation is released, so a worker that starts late (or
//   is slow to wake) is still waited for; it can never be 2^32 generations behind, so comparing
//   generations for inequality is enough despite wrap-around.
// - No lost wake-ups: std::atomic::wait(old) blocks only while the value still equals `old`, and
//   libstdc++/libc++ register the waiter before re-checking the value, so a notify after the
//   store either finds the waiter registered or the waiter sees the new value. notify_* costs one
//   load of a waiter count when nobody sleeps, which is the common case in a decode loop.
#include "engine/threads/thread_pool.h"

#include <algorithm>
#include <string>
#include <system_error>

#include "engine/core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <pthread.h>
#endif

namespace strata {
namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Returns the first value of `a` for which done(value) holds, loading with acquire. Three phases:
// a pure spin with a pause instruction (the first 128 rounds, a few microseconds: the gap between
// two dispatches of a decode loop), then the same spin with a sched_yield every 64 rounds until
// ThreadPool::kSpinTime has passed (when the pool has more threads than free cores, the thread we
// wait for may need this core; measured 10x faster with 4 threads on 2 cores), then a blocking
// std::atomic::wait until the value changes. The clock is read only every 64 rounds.
template <class Done>
uint32_t spin_then_wait(const std::atomic<uint32_t>& a, Done done) noexcept {
  uint32_t v = a.load(std::memory_order_acquire);
  if (done(v)) return v;
  const auto deadline = std::chrono::steady_clock::now() + ThreadPool::kSpinTime;
  for (uint32_t i = 1;; ++i) {
    cpu_relax();
    v = a.load(std::memory_order_acquire);
    if (done(v)) return v;
    if (i % 64 == 0) {
      if (std::chrono::steady_clock::now() >= deadline) break;
      // Past the first few microseconds, give the core away between rounds: when the pool has
      // more threads than free cores, the thread we are waiting for may need this one.
      if (i >= 128) std::this_thread::yield();
    }
  }
  for (;;) {
    a.wait(v, std::memory_order_acquire);
    v = a.load(std::memory_order_acquire);
    if (done(v)) return v;
  }
}

// Clears the busy flag when a dispatch ends, however it ends.
struct BusyGuard {
  std::atomic<bool>& flag;
  ~BusyGuard() { flag.store(false, std::memory_order_release); }
};

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads < 0) {
    throw Error(ErrorKind::InvalidArgument,
                "ThreadPool: n_threads must be >= 0 (0 = all hardware threads), got " + std::to_string(n_threads));
  }
  if (n_threads == 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  try {
    for (int ith = 1; ith < n_threads; ++ith) workers_.emplace_back(&ThreadPool::worker_main, this, ith);
  } catch (const std::system_error& e) {
    stop_workers();
    throw Error(ErrorKind::Internal, "ThreadPool: could not start worker thread " +
                                         std::to_string(workers_.size() + 1) + " of " + std::to_string(n_threads) +
                                         ": " + e.what());
  }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() noexcept {
  if (workers_.empty()) return;
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);  // publishes stop_ like a job
  generation_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void ThreadPool::worker_main(int ith) {
#if defined(__linux__)
  const std::string name = "strata-pool-" + std::to_string(ith);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
#endif
  // The constructor starts workers before any dispatch can happen, so 0 is the generation this
  // worker has "seen"; if the caller already dispatched, the first wait returns at once.
  uint32_t seen = 0;
  for (;;) {
    seen = spin_then_wait(generation_, [seen](uint32_t g) { return g != seen; });
    if (stop_.load(std::memory_order_relaxed)) return;
    try {
      (*task_)(ith, n_threads_);
    } catch (...) {
      record_error(std::current_exception());
    }
    if (pending_.fetch_sub(1, std::memory_order_release) == 1) pending_.notify_one();
  }
}

void ThreadPool::record_error(std::exception_ptr e) noexcept {
  std::lock_guard lock(error_mu_);
  if (!error_) error_ = std::move(e);
}

void ThreadPool::run(Task fn) {
  if (busy_.exchange(true, std::memory_order_acquire)) {
    throw Error(ErrorKind::InvalidArgument,
                "ThreadPool::run called while the pool is already running a job (run is not reentrant and "
                "takes one caller at a time)");
  }
  BusyGuard guard{busy_};
  if (workers_.empty()) {
    fn(0, 1);
    return;
  }

  task_ = &fn;
  pending_.store(static_cast<uint32_t>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();

  try {
    fn(0, n_threads_);
  } catch (...) {
    record_error(std::current_exception());
  }
  spin_then_wait(pending_, [](uint32_t p) { return p == 0; });

  // Every worker is idle again (see the completion argument above): error_ can be read unlocked.
  if (error_) {
    std::exception_ptr e = std::move(error_);
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, RangeTask fn) {
  if (grain < 0) {
    throw Error(ErrorKind::InvalidArgument,
                "ThreadPool::parallel_for: grain must be >= 0 (0 = automatic), got " + std::to_string(grain));
  }
  if (n <= 0) return;
  if (grain == 0) grain = std::max<int64_t>(1, n / (int64_t{4} * n_threads_));
  grain = std::min(grain, n);
  const int64_t chunks = n / grain + (n % grain != 0);
  if (chunks == 1) {
    fn(0, n);
    return;
  }

  // Chunk indices rather than offsets are handed out so that the counter cannot overflow even for
  // n close to INT64_MAX. Relaxed is enough: the counter only partitions work; visibility of the
  // results is given by run()'s completion barrier.
  std::atomic<int64_t> next{0};
  run([&](int, int) {
    for (;;) {
      const int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      const int64_t begin = c * grain;
      const int64_t end = begin + std::min(grain, n - begin);
      try {
        fn(begin, end);
      } catch (...) {
        next.store(chunks, std::memory_order_relaxed);  // abandon the chunks nobody took yet
        throw;
      }
    }
  });
}

}  // namespace strata
