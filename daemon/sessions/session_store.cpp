#include "daemon/sessions/session_store.h"

#include <algorithm>
#include <ctime>

#include "daemon/sessions/random_id.h"
#include "daemon/sessions/session_snapshots.h"
#include "engine/scheduler/scheduler.h"

namespace strata::daemon {

Session* SessionStore::create(uint32_t owner, const std::string& model) {
  if (sessions_.size() >= max_) return nullptr;
  auto s = std::make_unique<Session>();
  do {
    s->id = random_hex(16);
  } while (sessions_.count(s->id));
  s->owner = owner;
  s->model = model;
  s->created = s->last_used = static_cast<int64_t>(std::time(nullptr));
  s->use_tick = next_tick_++;
  Session* raw = s.get();
  sessions_.emplace(s->id, std::move(s));
  return raw;
}

Session* SessionStore::adopt(std::unique_ptr<Session> s) {
  if (sessions_.size() >= max_ || sessions_.count(s->id)) return nullptr;
  Session* raw = s.get();
  sessions_.emplace(s->id, std::move(s));
  return raw;
}

Session* SessionStore::find(std::string_view id, uint32_t owner) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second->owner != owner) return nullptr;
  return it->second.get();
}

void SessionStore::erase(std::string_view id) {
  auto it = sessions_.find(id);
  if (it != sessions_.end()) sessions_.erase(it);
  if (snapshots_) snapshots_->erase(std::string(id));
}

std::vector<const Session*> SessionStore::list(uint32_t owner) const {
  std::vector<const Session*> out;
  for (const auto& [id, s] : sessions_)
    if (s->owner == owner) out.push_back(s.get());
  std::sort(out.begin(), out.end(), [](const Session* a, const Session* b) {
    return a->created != b->created ? a->created < b->created : a->id < b->id;
  });
  return out;
}

std::vector<const Session*> SessionStore::all() const {
  std::vector<const Session*> out;
  for (const auto& [id, s] : sessions_) out.push_back(s.get());
  return out;
}

size_t SessionStore::count_for_model(std::string_view model) const {
  return static_cast<size_t>(
      std::count_if(sessions_.begin(), sessions_.end(), [&](const auto& e) { return e.second->model == model; }));
}

void SessionStore::touch(Session& s) {
  s.last_used = static_cast<int64_t>(std::time(nullptr));
  s.use_tick = next_tick_++;
}

std::vector<Session*> SessionStore::idle_with_kv(const Session* keep) {
  std::vector<Session*> out;
  for (auto& [id, s] : sessions_)
    if (s.get() != keep && !s->busy && s->sequence) out.push_back(s.get());
  std::sort(out.begin(), out.end(), [](const Session* a, const Session* b) {
    return a->last_used != b->last_used ? a->last_used < b->last_used : a->use_tick < b->use_tick;
  });
  return out;
}

void SessionStore::drop_kv(std::string_view model) {
  for (auto& [id, s] : sessions_)
    if (s->model == model && !s->busy) {
      s->sequence.reset();
      s->kv_bytes = 0;
    }
}

}  // namespace strata::daemon
