#include "engine/weights/weight_residency.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace strata {
namespace {

std::string gib(uint64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f GiB", double(bytes) / double(uint64_t{1} << 30));
  return b;
}

}  // namespace

HostMemory read_host_memory() {
  HostMemory h;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") {
      h.available_bytes = kib * 1024;
      break;
    }
  }
  // "always [madvise] never": the bracketed word is the mode in force.
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::stringstream text;
  text << thp.rdbuf();
  const std::string modes = text.str();
  h.huge_pages = modes.find("[always]") != std::string::npos || modes.find("[madvise]") != std::string::npos;
  return h;
}

bool copy_weights_at_load(MmapMode mode, uint64_t file_bytes, const HostMemory& host) {
  switch (mode) {
    case MmapMode::On: return false;
    case MmapMode::Off: return true;
    case MmapMode::Auto: break;
  }
  return host.huge_pages && file_bytes <= host.available_bytes / 2;
}

std::string weight_residency_reason(MmapMode mode, uint64_t file_bytes, const HostMemory& host) {
  const bool copy = copy_weights_at_load(mode, file_bytes, host);
  std::string why = copy ? "copied into RAM" : "mapped from the file";
  if (mode != MmapMode::Auto) return why + " (mmap = " + std::string(mmap_mode_name(mode)) + ")";
  if (!host.huge_pages) return why + " (transparent huge pages are off)";
  return why + " (" + gib(file_bytes) + " of " + gib(host.available_bytes) + " available" +
         (copy ? ", in huge pages)" : ": more than half)");
}

}  // namespace strata
