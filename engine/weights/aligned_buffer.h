// A page-aligned heap buffer charged to a MemoryLedger for its lifetime. Page alignment is what
// O_DIRECT needs of its destination (any multiple of the logical block size would do).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include "engine/weights/memory_ledger.h"

namespace strata {

class AlignedBuffer {
 public:
  static constexpr uint64_t kAlign = 4096;

  AlignedBuffer() = default;
  AlignedBuffer(uint64_t bytes, MemoryLedger& ledger) : ledger_(&ledger) {
    const uint64_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    ledger.charge(rounded);  // charged before allocating: a refused budget allocates nothing
    data_ = static_cast<uint8_t*>(std::aligned_alloc(kAlign, rounded ? rounded : kAlign));
    if (!data_) {
      ledger.release(rounded);
      throw std::bad_alloc();
    }
    size_ = rounded;
  }
  AlignedBuffer(AlignedBuffer&& o) noexcept { *this = std::move(o); }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      std::swap(data_, o.data_);
      std::swap(size_, o.size_);
      std::swap(ledger_, o.ledger_);
    }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { reset(); }

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  void reset() {
    if (data_) {
      std::free(data_);
      ledger_->release(size_);
    }
    data_ = nullptr;
    size_ = 0;
  }
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  MemoryLedger* ledger_ = nullptr;
};

}  // namespace strata
