// HTTP method + target -> route. Pure (no I/O), fuzzed.
#pragma once

#include <string>
#include <string_view>

namespace strata::daemon {

enum class Route {
  Models,           // GET    /v1/models
  Completions,      // POST   /v1/completions
  ChatCompletions,  // POST   /v1/chat/completions
  Generate,         // POST   /strata/v1/generate
  ListSessions,     // GET    /strata/v1/sessions
  GetSession,       // GET    /strata/v1/sessions/{id}
  DeleteSession,    // DELETE /strata/v1/sessions/{id}
  SnapshotSession,  // POST   /strata/v1/sessions/{id}/snapshot
  ExportSession,    // GET    /strata/v1/sessions/{id}/export
  ImportSession,    // POST   /strata/v1/sessions/import
  Status,           // GET    /strata/v1/status
  Metrics,          // GET    /metrics
  OpenShm,          // POST   /strata/v1/shm
  CloseShm,         // DELETE /strata/v1/shm/{id}
};

struct RouteMatch {
  Route route;
  std::string session_id;  // GetSession, DeleteSession, SnapshotSession, ExportSession; CloseShm: the channel id
};

// The query string (after '?') is ignored. Throws ApiError: 404 for an unknown path, 405 for a
// known path with another method (the message names the allowed ones).
RouteMatch match_route(std::string_view method, std::string_view target);

// The route's path pattern, e.g. "/strata/v1/sessions/{id}", for metrics labels and logs.
std::string_view route_pattern(Route route);

}  // namespace strata::daemon
