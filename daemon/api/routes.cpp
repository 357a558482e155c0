#include "daemon/api/routes.h"

#include "daemon/api/api_error.h"

namespace strata::daemon {
namespace {

// Printable ASCII only, so that echoing what the client sent in an error message is safe.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

ApiError method_not_allowed(std::string_view method, std::string_view path, const char* allowed) {
  return ApiError(405, "invalid_request_error", "method_not_allowed",
                  printable(method) + " is not allowed on " + printable(path) + " (allowed: " + allowed + ")");
}

}  // namespace

RouteMatch match_route(std::string_view method, std::string_view target) {
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  struct Fixed {
    std::string_view path;
    std::string_view method;
    Route route;
  };
  static constexpr Fixed kFixed[] = {
      {"/v1/models", "GET", Route::Models},
      {"/v1/completions", "POST", Route::Completions},
      {"/v1/chat/completions", "POST", Route::ChatCompletions},
      {"/strata/v1/generate", "POST", Route::Generate},
      {"/strata/v1/sessions", "GET", Route::ListSessions},
      {"/strata/v1/sessions/import", "POST", Route::ImportSession},
      {"/strata/v1/status", "GET", Route::Status},
      {"/metrics", "GET", Route::Metrics},
      {"/strata/v1/shm", "POST", Route::OpenShm},
  };
  for (const auto& f : kFixed) {
    if (path != f.path) continue;
    if (method != f.method) throw method_not_allowed(method, path, f.method.data());
    return {f.route, {}};
  }
  constexpr std::string_view kSession = "/strata/v1/sessions/";
  if (path.starts_with(kSession) && path.size() > kSession.size()) {
    std::string_view id = path.substr(kSession.size());
    if (id.find('/') == std::string_view::npos) {
      if (method == "GET") return {Route::GetSession, std::string(id)};
      if (method == "DELETE") return {Route::DeleteSession, std::string(id)};
      throw method_not_allowed(method, "/strata/v1/sessions/{id}", "GET, DELETE");
    }
    constexpr std::string_view kSnapshot = "/snapshot";
    if (id.ends_with(kSnapshot) && id.size() > kSnapshot.size() &&
        id.substr(0, id.size() - kSnapshot.size()).find('/') == std::string_view::npos) {
      if (method == "POST") return {Route::SnapshotSession, std::string(id.substr(0, id.size() - kSnapshot.size()))};
      throw method_not_allowed(method, "/strata/v1/sessions/{id}/snapshot", "POST");
    }
    constexpr std::string_view kExport = "/export";
    if (id.ends_with(kExport) && id.size() > kExport.size() &&
        id.substr(0, id.size() - kExport.size()).find('/') == std::string_view::npos) {
      if (method == "GET") return {Route::ExportSession, std::string(id.substr(0, id.size() - kExport.size()))};
      throw method_not_allowed(method, "/strata/v1/sessions/{id}/export", "GET");
    }
  }
  constexpr std::string_view kShm = "/strata/v1/shm/";
  if (path.starts_with(kShm) && path.size() > kShm.size()) {
    std::string_view id = path.substr(kShm.size());
    if (id.find('/') == std::string_view::npos) {
      if (method == "DELETE") return {Route::CloseShm, std::string(id)};
      throw method_not_allowed(method, "/strata/v1/shm/{id}", "DELETE");
    }
  }
  throw not_found("unknown_route", "no route " + printable(path));
}

std::string_view route_pattern(Route route) {
  switch (route) {
    case Route::Models: return "/v1/models";
    case Route::Completions: return "/v1/completions";
    case Route::ChatCompletions: return "/v1/chat/completions";
    case Route::Generate: return "/strata/v1/generate";
    case Route::ListSessions: return "/strata/v1/sessions";
    case Route::GetSession:
    case Route::DeleteSession: return "/strata/v1/sessions/{id}";
    case Route::SnapshotSession: return "/strata/v1/sessions/{id}/snapshot";
    case Route::ExportSession: return "/strata/v1/sessions/{id}/export";
    case Route::ImportSession: return "/strata/v1/sessions/import";
    case Route::Status: return "/strata/v1/status";
    case Route::Metrics: return "/metrics";
    case Route::OpenShm: return "/strata/v1/shm";
    case Route::CloseShm: return "/strata/v1/shm/{id}";
  }
  return "unknown";
}

}  // namespace strata::daemon
