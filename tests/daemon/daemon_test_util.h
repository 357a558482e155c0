// Helpers shared by the daemon integration tests.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/daemon/daemon_client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_paths.h"

namespace strata::test {

namespace json = boost::json;

inline std::string tiny_path() { return shared_path("models/llama-2-tiny-random.gguf").string(); }

// A daemon with "tiny" (no chat template) and "tinychat" (the same file, llama-2 template).
inline DaemonOptions two_models(std::string extra = "") {
  DaemonOptions o;
  o.config_text = "[models.tinychat]\npath = \"" + tiny_path() + "\"\nchat_template = \"llama-2\"\n" + extra;
  return o;
}

inline json::object parse_object(const std::string& body) {
  json::value v = json::parse(body);
  EXPECT_TRUE(v.is_object()) << body;
  return v.is_object() ? v.as_object() : json::object{};
}

inline json::object post_json(const DaemonProcess& d, const std::string& target, const std::string& body,
                              int want = 200) {
  HttpResponse r = http_request(d.socket(), "POST", target, body);
  EXPECT_EQ(r.status, want) << target << " " << body << " -> " << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  return parse_object(r.body);
}

inline json::object get_json(const DaemonProcess& d, const std::string& target) {
  HttpResponse r = http_request(d.socket(), "GET", target);
  EXPECT_EQ(r.status, 200) << target << " -> " << r.body;
  return parse_object(r.body);
}

inline std::vector<int32_t> ids(const json::value& v) {
  std::vector<int32_t> out;
  for (const auto& t : v.as_array()) out.push_back(static_cast<int32_t>(t.as_int64()));
  return out;
}

inline std::string ids_json(const std::vector<int32_t>& v) {
  json::array a;
  for (int32_t t : v) a.push_back(t);
  return json::serialize(a);
}

// Polls the status until `pred` holds; false after `timeout_ms`.
inline bool wait_status(const DaemonProcess& d, const std::function<bool(const json::object&)>& pred,
                        int timeout_ms = 10000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResponse r = http_request(d.socket(), "GET", "/strata/v1/status");
    if (r.status == 200 && pred(parse_object(r.body))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

inline int64_t metric(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + name.size() + 2));
}

}  // namespace strata::test
