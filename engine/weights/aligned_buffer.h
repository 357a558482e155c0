// A page-aligned heap buffer charged to a MemoryLedger for its lifetime. Page alignment is what
// O_DIRECT needs of its destination (any multiple of the logical block size would do).
//
// Buffers of kHugeBytes and more (resident weight layers, staging buffers) are anonymous
// mappings in whole 2 MiB units with MADV_HUGEPAGE: decode streams every weight byte once per
// token, and with 4 KiB pages every 4 KiB costs a TLB miss (a two-level walk under a hypervisor),
// which measured 20-30% of a Q4_K matrix-vector product's speed on this project's VM. Where
// transparent huge pages are off, the advice is ignored and the buffer still works.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include "engine/weights/memory_ledger.h"

namespace strata {

class AlignedBuffer {
 public:
  static constexpr uint64_t kAlign = 4096;
  static constexpr uint64_t kHugeBytes = uint64_t{2} << 20;

  AlignedBuffer() = default;
  AlignedBuffer(uint64_t bytes, MemoryLedger& ledger) : ledger_(&ledger) {
    const uint64_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    ledger.charge(rounded);  // charged before allocating: a refused budget allocates nothing
    if (rounded >= kHugeBytes) {
      data_ = map_huge_aligned(rounded);
      if (!data_) {
        ledger.release(rounded);
        throw std::bad_alloc();
      }
      mapped_ = true;
    } else {
      data_ = static_cast<uint8_t*>(std::aligned_alloc(kAlign, rounded ? rounded : kAlign));
      if (!data_) {
        ledger.release(rounded);
        throw std::bad_alloc();
      }
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
      std::swap(mapped_, o.mapped_);
    }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { reset(); }

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  // `bytes` (a multiple of 4 KiB) of anonymous memory starting on a 2 MiB boundary, so that every
  // whole 2 MiB of it can be a huge page (the tail past the last boundary uses 4 KiB pages; the
  // size, and so the ledger's charge, stays what was asked). nullptr when out of memory.
  static uint8_t* map_huge_aligned(uint64_t bytes) {
    const uint64_t span = bytes + kHugeBytes;
    void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    const auto start = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (start + kHugeBytes - 1) / kHugeBytes * kHugeBytes;
    if (aligned > start) ::munmap(p, aligned - start);
    const uintptr_t end = start + span, used_end = aligned + bytes;
    if (end > used_end) ::munmap(reinterpret_cast<void*>(used_end), end - used_end);
    ::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // advice: THP off is no error
    return reinterpret_cast<uint8_t*>(aligned);
  }

  void reset() {
    if (data_) {
      if (mapped_)
        ::munmap(data_, size_);
      else
        std::free(data_);
      ledger_->release(size_);
    }
    data_ = nullptr;
    size_ = 0;
    mapped_ = false;
  }
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  MemoryLedger* ledger_ = nullptr;
  bool mapped_ = false;  // an anonymous mapping (munmap), else aligned_alloc (free)
};

}  // namespace strata
