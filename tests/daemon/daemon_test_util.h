// Helpers shared by the daemon integration tests.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <random>
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

// n token ids drawn from the llama vocabulary's ordinary range (3..31999) by `seed`, after a BOS
// (id 1) when `bos`.
inline std::vector<int32_t> random_token_ids(size_t n, uint32_t seed, bool bos) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> d(3, 31999);
  std::vector<int32_t> v;
  if (bos) v.push_back(1);
  while (v.size() < n) v.push_back(d(rng));
  return v;
}

// A greedy /strata/v1/generate body for `model`, continuing `session` when given.
inline std::string greedy_generate_body(const std::string& model, const std::vector<int32_t>& prompt, int max_tokens,
                                        const std::string& session = "") {
  std::string body = R"({"model":")" + model + R"(","temperature":0,"max_tokens":)" + std::to_string(max_tokens) +
                     R"(,"prompt":)" + ids_json(prompt);
  if (!session.empty()) body += R"(,"session":")" + session + "\"";
  return body + "}";
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
