// strata_session_export / strata_session_import: session archives between a file and the daemon.
// The archive's bytes are opaque here: the daemon builds and verifies them.
#include <cstdio>
#include <fstream>
#include <iterator>

#include <boost/json/value.hpp>

#include "sdk/client/c_support.h"

using namespace strata::libclient;
namespace json = boost::json;

namespace {

[[noreturn]] void io_error(const std::string& what) { throw CallError(STRATA_ERR_IO, what); }

std::string read_file(const char* path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) io_error(std::string(path) + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) io_error(std::string(path) + ": read failed");
  return bytes;
}

// Streams the archive into a temporary file, then renames it: a failed or interrupted export
// never leaves a partial archive at `path`.
void export_to_file(ClientCore& core, const std::string& target, const char* path) {
  const std::string tmp = std::string(path) + ".tmp";
  std::ofstream f;
  try {
    core.request_to_sink("GET", target, "application/vnd.strata.session-archive, application/json",
                         [&](const ResponseHead&, std::string_view part) {
                           if (!f.is_open()) {
                             f.open(tmp, std::ios::binary | std::ios::trunc);
                             if (!f) io_error(tmp + ": cannot create");
                           }
                           if (!f.write(part.data(), static_cast<std::streamsize>(part.size())))
                             io_error(tmp + ": write failed");
                           return true;
                         });
    if (!f.is_open()) f.open(tmp, std::ios::binary | std::ios::trunc);  // an empty body
    f.close();
    if (!f) io_error(tmp + ": write failed");
    if (std::rename(tmp.c_str(), path) != 0) io_error(std::string(path) + ": cannot rename the temporary file");
  } catch (...) {
    if (f.is_open()) f.close();
    std::remove(tmp.c_str());
    throw;
  }
}

}  // namespace

extern "C" {

strata_result strata_session_export(strata_client* client, const char* id, const char* path) {
  return guarded(client, [&] {
    if (!id || !*id) invalid_argument("the session id is NULL or empty");
    if (!path || !*path) invalid_argument("session_export: path is NULL or empty");
    export_to_file(client->core, "/strata/v1/sessions/" + encode_path_segment(id) + "/export", path);
  });
}

strata_result strata_session_import(strata_client* client, const char* path, char** new_id) {
  if (new_id) *new_id = nullptr;
  return guarded(client, [&] {
    if (!path || !*path) invalid_argument("session_import: path is NULL or empty");
    if (!new_id) invalid_argument("session_import: new_id is NULL");
    const std::string bytes = read_file(path);
    const json::value v = client->core.request_json("POST", "/strata/v1/sessions/import", &bytes);
    const std::string id = string_field(object_of(v, "the import response"), "id");
    if (id.empty()) protocol_error("the import response has no id");
    *new_id = dup_string(id);
  });
}

}  // extern "C"
