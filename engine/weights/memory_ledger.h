// Byte accounting for one tier's allocations against its budget. Every buffer the tiered
// store allocates (resident layers, compressed copies, staging buffers) is charged here
// before it is allocated, so "the budget is never exceeded" is checked by construction and
// observable through peak().
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace strata {

class MemoryLedger {
 public:
  MemoryLedger(std::string what, uint64_t limit) : what_(std::move(what)), limit_(limit) {}
  MemoryLedger(const MemoryLedger&) = delete;
  MemoryLedger& operator=(const MemoryLedger&) = delete;

  // Throws Error(OutOfMemory) naming the budget when `bytes` more would exceed it.
  void charge(uint64_t bytes);
  void release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  std::string what_;
  uint64_t limit_;
  std::atomic<uint64_t> used_{0}, peak_{0};
};

}  // namespace strata
