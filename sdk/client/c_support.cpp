#include "sdk/client/c_support.h"

#include <cmath>
#include <cstring>

#include <boost/json/array.hpp>

namespace strata::libclient {

namespace json = boost::json;

char* dup_string(std::string_view s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (!p) throw std::bad_alloc();
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

namespace {

const json::value* field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

[[noreturn]] void wrong_type(std::string_view key, const char* expected) {
  protocol_error("field '" + std::string(key) + "' is not " + expected);
}

}  // namespace

const json::object& object_of(const json::value& v, const char* what) {
  if (!v.is_object()) protocol_error(std::string(what) + " is not a JSON object");
  return v.get_object();
}

const json::object* object_field(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v) return nullptr;
  if (!v->is_object()) wrong_type(key, "an object");
  return &v->get_object();
}

const json::array* array_field(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v) return nullptr;
  if (!v->is_array()) wrong_type(key, "an array");
  return &v->get_array();
}

std::string string_field(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v) return {};
  if (!v->is_string()) wrong_type(key, "a string");
  return std::string(v->get_string());
}

int64_t int_field(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double() && std::isfinite(v->get_double()) && std::fabs(v->get_double()) < 9.2e18)
    return static_cast<int64_t>(v->get_double());
  wrong_type(key, "an integer");
}

double number_field(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v) return 0;
  if (v->is_number()) return v->to_number<double>();
  wrong_type(key, "a number");
}

bool bool_field(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v) return false;
  if (!v->is_bool()) wrong_type(key, "true or false");
  return v->get_bool();
}

}  // namespace strata::libclient
