// Tests of strata::ThreadPool: run/parallel_for correctness over many dispatches, exceptions,
// misuse detection, lifetime, and a stress test of tiny dispatches (which prints the latency).
#include "engine/threads/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/core/error.h"

namespace strata {
namespace {

// Pool sizes to exercise: 1 (no workers), 2, and some oversubscription of this machine.
std::vector<int> pool_sizes() { return {1, 2, 3, 4, 8}; }

TEST(ThreadPool, RunCallsEveryThreadIndexOncePerDispatch) {
  for (int n : pool_sizes()) {
    ThreadPool pool(n);
    ASSERT_EQ(pool.size(), n);
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    const auto caller = std::this_thread::get_id();
    std::atomic<int> caller_was_ith0{0}, bad_nth{0};
    const int iterations = n <= 4 ? 2000 : 300;
    for (int it = 0; it < iterations; ++it) {
      pool.run([&](int ith, int nth) {
        if (nth != n) bad_nth.fetch_add(1);
        if (ith == 0 && std::this_thread::get_id() == caller) caller_was_ith0.fetch_add(1);
        hits[static_cast<size_t>(ith)].fetch_add(1, std::memory_order_relaxed);
      });
      // run() returned, so every thread has finished this dispatch.
      for (int i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), it + 1) << "n=" << n << " ith=" << i;
    }
    EXPECT_EQ(bad_nth.load(), 0);
    EXPECT_EQ(caller_was_ith0.load(), iterations);
  }
}

TEST(ThreadPool, PlainWritesOfWorkersAreVisibleAfterRun) {
  // Non-atomic writes: correct only because run() is a full barrier (ThreadSanitizer checks it).
  ThreadPool pool(4);
  std::vector<int64_t> slot(4, 0);
  for (int64_t it = 1; it <= 5000; ++it) {
    pool.run([&](int ith, int) { slot[static_cast<size_t>(ith)] += it * (ith + 1); });
    int64_t expect_base = it * (it + 1) / 2;
    for (int i = 0; i < 4; ++i) ASSERT_EQ(slot[static_cast<size_t>(i)], expect_base * (i + 1));
  }
}

TEST(ThreadPool, AcceptsStdFunction) {
  ThreadPool pool(2);
  std::atomic<int> calls{0};
  const std::function<void(int, int)> fn = [&](int, int) { calls.fetch_add(1); };
  pool.run(fn);
  const std::function<void(int64_t, int64_t)> range = [&](int64_t b, int64_t e) { calls.fetch_add(int(e - b)); };
  pool.parallel_for(10, 3, range);
  EXPECT_EQ(calls.load(), 12);
}

TEST(ThreadPool, ParallelForSumsARange) {
  ThreadPool pool(4);
  const int64_t n = 1'000'003;
  for (int64_t grain : std::vector<int64_t>{1, 7, 1000, 65536, 0, n, n + 5}) {
    std::atomic<int64_t> sum{0};
    pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
      int64_t s = 0;
      for (int64_t i = begin; i < end; ++i) s += i;
      sum.fetch_add(s, std::memory_order_relaxed);
    });
    EXPECT_EQ(sum.load(), n * (n - 1) / 2) << "grain " << grain;
  }
}

TEST(ThreadPool, ParallelForVisitsEveryIndexExactlyOnceInChunksOfGrain) {
  std::mt19937 rng(12345);
  for (int n_threads : pool_sizes()) {
    ThreadPool pool(n_threads);
    for (int it = 0; it < 300; ++it) {
      const int64_t n = std::uniform_int_distribution<int64_t>(0, 5000)(rng);
      const int64_t grain = std::uniform_int_distribution<int64_t>(0, 300)(rng);
      std::vector<std::atomic<int>> visits(static_cast<size_t>(n));
      std::atomic<int> bad_chunks{0};
      pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
        if (!(0 <= begin && begin < end && end <= n)) bad_chunks.fetch_add(1);
        if (grain > 0 && (end - begin > grain || begin % grain != 0)) bad_chunks.fetch_add(1);
        for (int64_t i = begin; i < end; ++i) visits[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
      });
      ASSERT_EQ(bad_chunks.load(), 0) << "n=" << n << " grain=" << grain;
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(visits[static_cast<size_t>(i)].load(), 1) << "index " << i << " n=" << n << " grain=" << grain;
      }
    }
  }
}

TEST(ThreadPool, ParallelForRejectsNegativeGrainAndIgnoresEmptyRanges) {
  ThreadPool pool(2);
  int calls = 0;
  EXPECT_THROW(pool.parallel_for(10, -1, [&](int64_t, int64_t) { ++calls; }), Error);
  pool.parallel_for(0, 4, [&](int64_t, int64_t) { ++calls; });
  pool.parallel_for(-5, 4, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPool, ExceptionOnAWorkerIsRethrownAfterAllThreadsFinished) {
  ThreadPool pool(4);
  std::atomic<int> finished{0};
  try {
    pool.run([&](int ith, int nth) {
      if (ith == nth - 1) throw std::runtime_error("worker failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // still running when the worker throws
      finished.fetch_add(1);
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "worker failed");
  }
  EXPECT_EQ(finished.load(), 3);  // the others were waited for

  // The pool is usable afterwards and the error does not leak into the next dispatch.
  std::atomic<int> calls{0};
  pool.run([&](int, int) { calls.fetch_add(1); });
  EXPECT_EQ(calls.load(), 4);
}

TEST(ThreadPool, ExceptionOnTheCallerIsRethrown) {
  ThreadPool pool(3);
  std::atomic<int> calls{0};
  EXPECT_THROW(pool.run([&](int ith, int) {
    calls.fetch_add(1);
    if (ith == 0) throw std::logic_error("caller failed");
  }),
               std::logic_error);
  EXPECT_EQ(calls.load(), 3);
}

TEST(ThreadPool, ExceptionOnEveryThreadRethrowsOneOfThem) {
  ThreadPool pool(4);
  for (int it = 0; it < 200; ++it) {
    try {
      pool.run([&](int ith, int) { throw std::runtime_error("thread " + std::to_string(ith)); });
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("thread ", 0), 0u);
    }
  }
  std::atomic<int> calls{0};
  pool.run([&](int, int) { calls.fetch_add(1); });
  EXPECT_EQ(calls.load(), 4);
}

TEST(ThreadPool, ParallelForExceptionAbandonsTheRestAndIsRethrown) {
  ThreadPool pool(4);
  std::atomic<int64_t> visited{0};
  EXPECT_THROW(pool.parallel_for(100'000, 10,
                                 [&](int64_t begin, int64_t end) {
                                   if (begin <= 500 && 500 < end) throw std::out_of_range("index 500");
                                   visited.fetch_add(end - begin);
                                 }),
               std::out_of_range);
  EXPECT_LT(visited.load(), 100'000);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(1000, 10, [&](int64_t b, int64_t e) { sum.fetch_add(e - b); });
  EXPECT_EQ(sum.load(), 1000);
}

TEST(ThreadPool, SizeOnePoolRunsInlineOnTheCaller) {
  ThreadPool pool(1);
  EXPECT_EQ(pool.size(), 1);
  const auto caller = std::this_thread::get_id();
  int calls = 0;  // plain int: everything happens on this thread
  pool.run([&](int ith, int nth) {
    EXPECT_EQ(ith, 0);
    EXPECT_EQ(nth, 1);
    EXPECT_EQ(std::this_thread::get_id(), caller);
    ++calls;
  });
  EXPECT_EQ(calls, 1);

  std::vector<std::pair<int64_t, int64_t>> chunks;
  pool.parallel_for(10, 4, [&](int64_t b, int64_t e) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    chunks.emplace_back(b, e);
  });
  const std::vector<std::pair<int64_t, int64_t>> expected{{0, 4}, {4, 8}, {8, 10}};
  EXPECT_EQ(chunks, expected);
  EXPECT_THROW(pool.run([](int, int) { throw std::runtime_error("x"); }), std::runtime_error);
}

TEST(ThreadPool, ZeroMeansHardwareConcurrencyAndNegativeIsRejected) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.size(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  try {
    ThreadPool bad(-1);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("n_threads"), std::string::npos);
  }
}

TEST(ThreadPool, NestedRunIsRejectedInsteadOfDeadlocking) {
  for (int n : {1, 3}) {
    ThreadPool pool(n);
    // From the caller's share of the job ...
    EXPECT_THROW(pool.run([&](int ith, int) {
      if (ith == 0) pool.run([](int, int) {});
    }),
                 Error);
    // ... and from a worker's.
    if (n > 1) {
      EXPECT_THROW(pool.run([&](int ith, int) {
        if (ith == 1) pool.run([](int, int) {});
      }),
                   Error);
    }
    std::atomic<int> calls{0};
    pool.run([&](int, int) { calls.fetch_add(1); });
    EXPECT_EQ(calls.load(), n);
  }
}

TEST(ThreadPool, DestructionWhileIdle) {
  // Never used; used then destroyed while workers spin; used then destroyed while they sleep.
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(3);
  }
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(3);
    std::atomic<int> calls{0};
    pool.run([&](int, int) { calls.fetch_add(1); });
    EXPECT_EQ(calls.load(), 3);
  }
  for (int i = 0; i < 5; ++i) {
    auto pool = std::make_unique<ThreadPool>(3);
    pool->run([](int, int) {});
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // well past the spin phase
    pool.reset();
  }
}

TEST(ThreadPool, WakesWorkersFromSleep) {
  ThreadPool pool(3);
  for (int it = 0; it < 30; ++it) {
    std::this_thread::sleep_for(std::chrono::microseconds(it % 2 ? 300 : 2000));  // workers go to sleep
    std::atomic<int> calls{0};
    pool.run([&](int, int) { calls.fetch_add(1); });
    ASSERT_EQ(calls.load(), 3);
  }
}

TEST(ThreadPool, StressManyTinyDispatches) {
  const int n_threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 2u, 4u));
  ThreadPool pool(n_threads);
  std::vector<std::atomic<int64_t>> per_thread(static_cast<size_t>(n_threads));
  const int dispatches = 100'000;
  pool.run([](int, int) {});  // warm-up: workers started and spinning
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < dispatches; ++i) {
    pool.run([&](int ith, int) { per_thread[static_cast<size_t>(ith)].fetch_add(1, std::memory_order_relaxed); });
  }
  const auto t1 = std::chrono::steady_clock::now();
  for (auto& c : per_thread) EXPECT_EQ(c.load(), dispatches);

  std::atomic<int64_t> visited{0};
  const int loops = 20'000;
  for (int i = 0; i < loops; ++i) {
    pool.parallel_for(64, 8, [&](int64_t b, int64_t e) { visited.fetch_add(e - b, std::memory_order_relaxed); });
  }
  const auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(visited.load(), int64_t{64} * loops);

  using us = std::chrono::duration<double, std::micro>;
  std::cout << "[ThreadPool] " << n_threads << " threads: mean run() dispatch " << us(t1 - t0).count() / dispatches
            << " us, parallel_for(64, grain 8) " << us(t2 - t1).count() / loops << " us\n";
}

}  // namespace
}  // namespace strata
