#include "sdk/client/shm_channel.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>

#include "sdk/client/call_error.h"

namespace strata::libclient {

namespace json = boost::json;

void ShmChannel::unmap() {
  if (map_) ::munmap(map_, size_);
  map_ = nullptr;
  size_ = 0;
  id_.clear();
}

void ShmChannel::ensure(ClientCore& core, uint64_t size) {
  core.ensure_fresh_connection();
  const bool same_connection = map_ && serial_ == core.connection_serial();
  if (same_connection && size_ >= size) return;
  if (same_connection) {
    // Too small: give the old one back now rather than hold two against the per-user limit.
    const std::string target = "/strata/v1/shm/" + encode_path_segment(id_);
    try {
      core.request_json("DELETE", target, nullptr);
    } catch (const CallError&) {
      // Gone already; the connection's end would remove it anyway.
    }
  }
  unmap();

  uint64_t want = std::max(size, kMinSize);
  want = (want + 4095) & ~uint64_t{4095};
  const std::string body = json::serialize(json::object{{"size", want}});
  json::value v = core.request_json("POST", "/strata/v1/shm", &body);
  const int fd = core.take_passed_fd();
  if (fd < 0) protocol_error("the answer to POST /strata/v1/shm carried no descriptor");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const json::object* o = v.if_object();
  const json::value* id = o ? o->if_contains("channel") : nullptr;
  if (!id || !id->is_string()) protocol_error("the answer to POST /strata/v1/shm has no channel id");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < want)
    protocol_error("the shared-memory segment is smaller than the channel's size");
  void* p = ::mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    throw CallError(STRATA_ERR_NO_MEMORY, std::string("cannot map the shared-memory channel: ") + std::strerror(errno));
  map_ = static_cast<char*>(p);
  size_ = want;
  id_ = std::string(id->get_string());
  serial_ = core.connection_serial();
}

}  // namespace strata::libclient
