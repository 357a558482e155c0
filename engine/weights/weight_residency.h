// Where a plain load keeps the weights: in the mapped file, or copied into anonymous RAM.
//
// Decode reads every weight byte once per token. From the file's mapping those bytes sit in
// 4 KiB page-cache pages, and every 4 KiB is a TLB miss (a two-level walk under a hypervisor).
// Copied into AlignedBuffers they sit in 2 MiB transparent huge pages: llama-1b Q4_K decode on
// 2 threads measured 70.6-72.9% of the bandwidth roofline mapped and 83.8-91.2% copied
// (bench/README.md). Mapping costs nothing at load, shares the page cache with other readers and
// lets the kernel drop clean pages under pressure; so `auto` copies only where huge pages are on
// and the copy leaves most of the available memory free.
#pragma once

#include <cstdint>
#include <string>

#include "engine/weights/weight_options.h"

namespace strata {

struct HostMemory {
  uint64_t available_bytes = 0;  // /proc/meminfo MemAvailable; 0 when unreadable
  bool huge_pages = false;       // transparent huge pages honour MADV_HUGEPAGE (always or madvise)
};

HostMemory read_host_memory();

// The decision for a file of `file_bytes`: On maps, Off copies, Auto copies when huge pages are
// on and the file takes at most half of the available memory (the rest is for KV, the page
// cache and the other programs on the machine).
bool copy_weights_at_load(MmapMode mode, uint64_t file_bytes, const HostMemory& host);

// Why, in a few words, for logs and --verbose ("copied: huge pages on, 0.8 GiB of 20 GiB available").
std::string weight_residency_reason(MmapMode mode, uint64_t file_bytes, const HostMemory& host);

}  // namespace strata
