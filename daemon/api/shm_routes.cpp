// Shared-memory channels: POST /strata/v1/shm opens one and passes its segment's descriptor to
// the client over the Unix socket; DELETE /strata/v1/shm/{id} closes it. See docs/protocol.md.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "daemon/api/api_error.h"
#include "daemon/api/api_state.h"
#include "daemon/log/logger.h"

namespace strata::daemon {
namespace {

namespace json = boost::json;

std::string shown(const std::string& id) {
  std::string out;
  for (char c : id.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

std::shared_ptr<const ShmChannel> find_shm_channel(ApiState& st, const HttpRequest& req, const std::string& id) {
  auto c = st.shm ? st.shm->find(id, req.peer.uid, req.connection) : nullptr;
  // Another user's channel, or one opened on another connection, does not exist for this one.
  if (!c)
    throw not_found("shm_channel_not_found",
                    "no shared-memory channel '" + shown(id) + "' on this connection (channels belong to the "
                    "connection that opened them)");
  return c;
}

void handle_open_shm(ApiState& st, const HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  if (req.peer.tcp)
    throw bad_request("shm_unavailable",
                      "shared-memory channels need the Unix socket: the segment is passed as a file descriptor");
  if (st.shm_channels_per_user == 0)
    throw bad_request("shm_unavailable", "shared-memory channels are turned off (limits.shm_channels_per_user = 0)");
  const uint64_t size = parse_shm_open_request(req.body);
  if (size > st.shm_max_bytes)
    throw bad_request("invalid_value", "'size' must be at most " + std::to_string(st.shm_max_bytes) +
                                           " bytes (limits.shm_max_bytes), got " + std::to_string(size));
  if (st.shm->count_for(req.peer.uid) >= st.shm_channels_per_user)
    throw rate_limited("too_many_channels", "uid " + std::to_string(req.peer.uid) + " has " +
                                                std::to_string(st.shm_channels_per_user) +
                                                " shared-memory channels open already (limits.shm_channels_per_user); "
                                                "delete one or close its connection");
  std::shared_ptr<const ShmChannel> c;
  try {
    c = st.shm->open(req.peer.uid, req.connection, size);
  } catch (const std::runtime_error& e) {
    st.ctx.log.error(e.what());
    throw server_error("shm_failed", e.what());
  }
  const std::string body = json::serialize(
      json::object{{"channel", c->id}, {"name", "/" + c->segment->name()}, {"size", c->segment->size()}});
  ex->respond_with_fd(200, "application/json", body, c->segment->fd());
}

void handle_close_shm(ApiState& st, const HttpRequest& req, const std::string& id,
                      const std::shared_ptr<Exchange>& ex) {
  find_shm_channel(st, req, id);
  st.shm->close(id, req.peer.uid, req.connection);
  ex->respond(200, "application/json", json::serialize(json::object{{"deleted", id}}));
}

}  // namespace strata::daemon
