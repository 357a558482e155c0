#include "engine/weights/memory_ledger.h"

#include "engine/core/error.h"

namespace strata {

void MemoryLedger::charge(uint64_t bytes) {
  const uint64_t now = used_.load(std::memory_order_relaxed);
  if (bytes > limit_ || now > limit_ - bytes)
    throw Error(ErrorKind::OutOfMemory, what_ + ": allocating " + std::to_string(bytes) + " bytes would exceed the budget of " +
                                            std::to_string(limit_) + " bytes (" + std::to_string(now) + " in use)");
  const uint64_t after = used_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  uint64_t p = peak_.load(std::memory_order_relaxed);
  while (after > p && !peak_.compare_exchange_weak(p, after, std::memory_order_relaxed)) {
  }
}

}  // namespace strata
