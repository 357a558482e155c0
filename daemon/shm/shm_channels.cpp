#include "daemon/shm/shm_channels.h"

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "daemon/sessions/random_id.h"

namespace strata::daemon {
namespace {

// Where glibc's shm_open keeps POSIX shared memory on Linux.
constexpr const char* kShmDir = "/dev/shm";

// FNV-1a, 64 bits: a stable hash of the instance name (std::hash may differ between builds, and
// the prefix must survive an upgrade of the daemon to find its own leftovers).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

ShmChannels::ShmChannels(const std::string& instance) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(instance)));
  prefix_ = std::string("strata-") + hex + "-";
}

ShmChannels::~ShmChannels() = default;  // each segment removes its name when its last holder lets go

size_t ShmChannels::remove_stale() const {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kShmDir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix_)) continue;
    ShmSegment::remove(name);
    ++removed;
  }
  return removed;
}

std::shared_ptr<const ShmChannel> ShmChannels::open(uint32_t uid, uint64_t connection, uint64_t size) {
  auto c = std::make_shared<ShmChannel>();
  c->id = random_hex(16);
  c->uid = uid;
  c->connection = connection;
  c->segment = std::make_shared<ShmSegment>(prefix_ + c->id, size, uid);
  channels_.emplace(c->id, c);
  return c;
}

std::shared_ptr<const ShmChannel> ShmChannels::find(const std::string& id, uint32_t uid, uint64_t connection) const {
  auto it = channels_.find(id);
  if (it == channels_.end() || it->second->uid != uid || it->second->connection != connection) return nullptr;
  return it->second;
}

bool ShmChannels::close(const std::string& id, uint32_t uid, uint64_t connection) {
  if (!find(id, uid, connection)) return false;
  channels_.erase(id);
  return true;
}

void ShmChannels::close_connection(uint64_t connection) {
  std::erase_if(channels_, [connection](const auto& kv) { return kv.second->connection == connection; });
}

int64_t ShmChannels::count_for(uint32_t uid) const {
  int64_t n = 0;
  for (const auto& [id, c] : channels_) n += c->uid == uid;
  return n;
}

uint64_t ShmChannels::bytes() const {
  uint64_t n = 0;
  for (const auto& [id, c] : channels_) n += c->segment->size();
  return n;
}

}  // namespace strata::daemon
