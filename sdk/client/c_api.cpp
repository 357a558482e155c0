// The C API: versions, result strings, the client's life cycle and errors, small helpers.
// Generation is in c_generate.cpp, sessions/status/models in c_queries.cpp.
#include <cstddef>
#include <cstring>

#include "sdk/client/c_support.h"
#include "sdk/client/endpoint.h"

using namespace strata::libclient;

#define STRATA_STR2(x) #x
#define STRATA_STR(x) STRATA_STR2(x)

extern "C" {

const char* strata_result_string(int result) {
  switch (result) {
    case STRATA_OK: return "success";
    case STRATA_ERR_INVALID_ARGUMENT: return "invalid argument";
    case STRATA_ERR_NO_MEMORY: return "out of memory";
    case STRATA_ERR_CONNECT: return "stratad is not reachable";
    case STRATA_ERR_IO: return "the connection to stratad broke";
    case STRATA_ERR_TIMEOUT: return "stratad did not answer in time";
    case STRATA_ERR_PROTOCOL: return "malformed response from stratad";
    case STRATA_ERR_INVALID_REQUEST: return "stratad refused the request";
    case STRATA_ERR_UNAUTHORIZED: return "not authorized";
    case STRATA_ERR_NOT_FOUND: return "not found";
    case STRATA_ERR_RATE_LIMITED: return "stratad is at a limit; retry later";
    case STRATA_ERR_SERVER: return "stratad failed while serving the request";
    case STRATA_ERR_CANCELLED: return "cancelled";
  }
  return "unknown result code";
}

const char* strata_version(void) {
  return STRATA_STR(STRATA_VERSION_MAJOR) "." STRATA_STR(STRATA_VERSION_MINOR) "." STRATA_STR(STRATA_VERSION_PATCH);
}

uint32_t strata_version_number(void) { return STRATA_VERSION_NUMBER; }

void strata_client_options_init(strata_client_options* options) {
  if (!options) return;
  std::memset(options, 0, sizeof *options);
  options->struct_size = sizeof *options;
}

strata_result strata_client_create(const strata_client_options* options, strata_client** out) {
  if (!out) return STRATA_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  // The 0.1.0 struct ended with io_timeout_ms; later fields are read only when present.
  if (options && options->struct_size < offsetof(strata_client_options, shm_threshold_bytes))
    return STRATA_ERR_INVALID_ARGUMENT;
  const bool has_shm_threshold =
      options && options->struct_size >= offsetof(strata_client_options, shm_threshold_bytes) + sizeof(int64_t);
  try {
    CoreOptions o;
    if (options) {
      if (options->socket_path) o.socket_path = options->socket_path;
      if (options->tcp_address) o.tcp_address = options->tcp_address;
      if (options->bearer_token) o.bearer_token = options->bearer_token;
      if (options->connect_timeout_ms > 0) o.connect_timeout_ms = options->connect_timeout_ms;
      if (options->io_timeout_ms > 0) o.io_timeout_ms = options->io_timeout_ms;
    }
    *out = new strata_client(std::move(o));
    (*out)->shm_threshold = has_shm_threshold && options->shm_threshold_bytes != 0 ? options->shm_threshold_bytes
                                                                                  : STRATA_SHM_THRESHOLD_DEFAULT;
    return STRATA_OK;
  } catch (...) {
    return STRATA_ERR_NO_MEMORY;
  }
}

void strata_client_destroy(strata_client* client) { delete client; }

strata_result strata_client_connect(strata_client* client) {
  return guarded(client, [&] { client->core.connect(); });
}

const char* strata_client_endpoint(strata_client* client) {
  if (!client) return "";
  // Not a request: the last error stays as it is (a caller may print both).
  try {
    client->endpoint = client->core.endpoint_description();
  } catch (...) {
    client->endpoint.clear();  // e.g. a malformed TCP address; the next request reports it
  }
  return client->endpoint.c_str();
}

const char* strata_last_error(const strata_client* client) { return client ? client->error.c_str() : ""; }

int strata_last_http_status(const strata_client* client) { return client ? client->http_status : 0; }

strata_result strata_default_socket_path(char** out) {
  if (!out) return STRATA_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  try {
    *out = dup_string(default_socket_path());
    return STRATA_OK;
  } catch (...) {
    return STRATA_ERR_NO_MEMORY;
  }
}

void strata_free_string(char* s) { std::free(s); }

}  // extern "C"
