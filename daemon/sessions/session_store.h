// Sessions: conversations kept in memory between requests. A session belongs to the Unix user
// (peer uid) whose connection created it; every lookup takes the caller's uid and treats another
// user's session exactly like an unknown one.
//
// Not thread-safe: used from the daemon's I/O thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace strata {
class Sequence;
}

namespace strata::daemon {

struct Session {
  std::string id;      // 128-bit random, 32 hex digits
  uint32_t owner = 0;  // uid
  std::string model;
  // The engine's sequence (KV cache + the tokens it holds); null after the model was unloaded:
  // the next request re-prefills `history`.
  std::shared_ptr<Sequence> sequence;
  // Every token of the conversation in order: prompts and generated tokens (end-of-generation
  // tokens excluded). The sequence holds a prefix of it.
  std::vector<int32_t> history;
  uint64_t kv_bytes = 0;  // KV memory of `sequence`, as of the end of the last request
  int64_t created = 0;    // unix seconds
  int64_t last_used = 0;
  bool busy = false;  // a request is running on it
  // history.size() when the session was last saved to the snapshot store (-1: never), so that
  // idle saves skip sessions that did not change.
  int64_t saved_tokens = -1;
  // The last save at saved_tokens failed (it is not retried until the session changes): the
  // store does not hold this history.
  bool save_failed = false;
  // Orders sessions used within the same second (SessionStore::touch): least recently used first
  // is (last_used, use_tick).
  uint64_t use_tick = 0;
};

class SessionSnapshots;

class SessionStore {
 public:
  explicit SessionStore(size_t max_sessions) : max_(max_sessions) {}

  // A new session, or nullptr when the store holds max_sessions already.
  Session* create(uint32_t owner, const std::string& model);
  // Takes a session loaded from the snapshot index (its id kept); nullptr when full or the id
  // is taken.
  Session* adopt(std::unique_ptr<Session> session);
  // nullptr when unknown or owned by another uid.
  Session* find(std::string_view id, uint32_t owner);
  // Removes the session from memory and from the snapshot store.
  void erase(std::string_view id);

  // The caller's sessions (all of them with `all`), oldest first.
  std::vector<const Session*> list(uint32_t owner) const;
  std::vector<const Session*> all() const;
  size_t count_for_model(std::string_view model) const;

  // The model was unloaded: sessions keep their history, their KV is dropped.
  void drop_kv(std::string_view model);
  // The session was just used: stamps last_used (now) and its use_tick.
  void touch(Session& s);
  // Idle sessions (not busy) holding KV, except `keep`, least recently used first.
  std::vector<Session*> idle_with_kv(const Session* keep);

  size_t size() const { return sessions_.size(); }
  void set_limit(size_t max_sessions) { max_ = max_sessions; }

  // The snapshot store sessions are saved to; null when snapshots are off.
  void set_snapshots(SessionSnapshots* snapshots) { snapshots_ = snapshots; }
  SessionSnapshots* snapshots() const { return snapshots_; }
  // Every session, for saving them.
  template <class F>
  void for_each(F&& f) {
    for (auto& [id, s] : sessions_) f(*s);
  }

 private:
  size_t max_;
  uint64_t next_tick_ = 1;
  SessionSnapshots* snapshots_ = nullptr;
  std::map<std::string, std::unique_ptr<Session>, std::less<>> sessions_;
};

}  // namespace strata::daemon
