// Shared by the C API's translation units: the client object behind the opaque handle, the
// guard that turns exceptions into result codes, C allocations and JSON field access.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "sdk/client/call_error.h"
#include "sdk/client/client_core.h"
#include "sdk/client/shm_channel.h"
#include "strata/strata.h"

struct strata_client {
  explicit strata_client(strata::libclient::CoreOptions o) : core(std::move(o)) {}
  strata::libclient::ClientCore core;
  // Shared memory (c_generate.cpp): payloads of at least shm_threshold bytes go through the
  // channel; < 0 never. shm_refused: the daemon cannot do it (TCP, an older daemon, turned off).
  int64_t shm_threshold = 0;
  bool shm_refused = false;
  strata::libclient::ShmChannel shm;
  std::string error;    // the last failure's message
  int http_status = 0;  // the last failure's HTTP status
  std::string endpoint; // storage for strata_client_endpoint
};

namespace strata::libclient {

// Runs f() for a C entry point: clears the client's error, returns STRATA_OK, or records the
// failure on the client and returns its code. No exception leaves.
template <class F>
strata_result guarded(strata_client* client, F&& f) noexcept {
  if (!client) return STRATA_ERR_INVALID_ARGUMENT;
  try {
    client->error.clear();
    client->http_status = 0;
    f();
    return STRATA_OK;
  } catch (const CallError& e) {
    try {
      client->error = e.what();
    } catch (...) {
    }
    client->http_status = e.http_status();
    return e.code();
  } catch (const std::bad_alloc&) {
    client->error.clear();
    return STRATA_ERR_NO_MEMORY;
  } catch (const std::exception& e) {
    try {
      client->error = std::string("malformed response from the daemon: ") + e.what();
    } catch (...) {
    }
    return STRATA_ERR_PROTOCOL;
  }
}

[[noreturn]] inline void invalid_argument(const std::string& what) {
  throw CallError(STRATA_ERR_INVALID_ARGUMENT, what);
}

// A malloc'ed NUL-terminated copy; throws std::bad_alloc.
char* dup_string(std::string_view s);
// A zeroed malloc'ed T with struct_size set; throws std::bad_alloc.
template <class T>
T* alloc_struct() {
  T* p = static_cast<T*>(std::calloc(1, sizeof(T)));
  if (!p) throw std::bad_alloc();
  p->struct_size = sizeof(T);
  return p;
}
// A zeroed array of n T (at least one element, so that it is never NULL); throws std::bad_alloc.
template <class T>
T* alloc_array(size_t n) {
  T* p = static_cast<T*>(std::calloc(n ? n : 1, sizeof(T)));
  if (!p) throw std::bad_alloc();
  return p;
}

// JSON fields of the daemon's objects. Absent or null gives the default; a wrong type throws
// CallError(STRATA_ERR_PROTOCOL) naming the field.
const boost::json::object& object_of(const boost::json::value& v, const char* what);
const boost::json::object* object_field(const boost::json::object& o, std::string_view key);
const boost::json::array* array_field(const boost::json::object& o, std::string_view key);
std::string string_field(const boost::json::object& o, std::string_view key);
int64_t int_field(const boost::json::object& o, std::string_view key);
double number_field(const boost::json::object& o, std::string_view key);
bool bool_field(const boost::json::object& o, std::string_view key);

}  // namespace strata::libclient
