// The real stratad over its Unix socket: every route, streaming, sessions, cancellation by
// disconnect, limits, idle unload.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "tests/daemon/daemon_test_util.h"

namespace strata::test {
namespace {

TEST(DaemonApi, ModelsAndCompletions) {
  DaemonProcess d(two_models());
  json::object models = get_json(d, "/v1/models");
  EXPECT_EQ(models["object"], "list");
  std::vector<std::string> names;
  for (const auto& m : models["data"].as_array()) {
    names.emplace_back(m.at("id").as_string());
    EXPECT_EQ(m.at("object"), "model");
    EXPECT_EQ(m.at("owned_by"), "strata");
  }
  EXPECT_EQ(names, (std::vector<std::string>{"tiny", "tinychat"}));

  json::object c =
      post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"Hello","max_tokens":6,"temperature":0})");
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["model"], "tiny");
  EXPECT_TRUE(c["id"].as_string().starts_with("cmpl-"));
  const auto& choice = c["choices"].as_array().at(0).as_object();
  EXPECT_EQ(choice.at("index"), 0);
  EXPECT_FALSE(choice.at("text").as_string().empty());
  EXPECT_EQ(choice.at("finish_reason"), "length");
  EXPECT_EQ(c["usage"].at("completion_tokens"), 6);
  EXPECT_GT(c["usage"].at("prompt_tokens").as_int64(), 0);
  EXPECT_EQ(c["usage"].at("total_tokens").as_int64(),
            c["usage"].at("prompt_tokens").as_int64() + c["usage"].at("completion_tokens").as_int64());

  // Greedy is deterministic, and a seed makes sampling so.
  json::object again =
      post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"Hello","max_tokens":6,"temperature":0})");
  EXPECT_EQ(again["choices"].at(0).at("text"), choice.at("text"));
  const std::string seeded = R"({"model":"tiny","prompt":"Hello","max_tokens":8,"temperature":1,"seed":42})";
  EXPECT_EQ(post_json(d, "/v1/completions", seeded)["choices"].at(0).at("text"),
            post_json(d, "/v1/completions", seeded)["choices"].at(0).at("text"));

  // Fill-in-the-middle needs FIM tokens, which the tiny vocabulary lacks: a clear 400.
  json::object fim = post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"a","suffix":"b"})", 400);
  EXPECT_EQ(fim["error"].at("code"), "fim_unsupported");
  EXPECT_NE(std::string(fim["error"].at("message").as_string()).find("tiny"), std::string::npos);
}

TEST(DaemonApi, StreamingCompletionEndsWithUsageAndDone) {
  DaemonProcess d;
  HttpResponse r = http_request(d.socket(), "POST", "/v1/completions",
                                R"({"model":"tiny","prompt":"Hello","max_tokens":7,"temperature":0,"stream":true})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  const auto events = sse_events(r.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    json::object chunk = parse_object(events[i]);
    EXPECT_EQ(chunk["object"], "text_completion");
    EXPECT_TRUE(chunk["choices"].at(0).at("finish_reason").is_null());
    text += chunk["choices"].at(0).at("text").as_string();
  }
  json::object last = parse_object(events[events.size() - 2]);
  EXPECT_EQ(last["choices"].at(0).at("finish_reason"), "length");
  EXPECT_EQ(last["usage"].at("completion_tokens"), 7);
  // The stream carries the same text as the non-streaming answer.
  json::object whole =
      post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"Hello","max_tokens":7,"temperature":0})");
  EXPECT_EQ(text, whole["choices"].at(0).at("text").as_string());
}

TEST(DaemonApi, ChatCompletions) {
  DaemonProcess d(two_models());
  const std::string body =
      R"({"model":"tinychat","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],)"
      R"("max_tokens":5,"temperature":0)";
  json::object c = post_json(d, "/v1/chat/completions", body + "}");
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_TRUE(c["id"].as_string().starts_with("chatcmpl-"));
  const auto& msg = c["choices"].at(0).at("message");
  EXPECT_EQ(msg.at("role"), "assistant");
  EXPECT_TRUE(msg.at("content").is_string());
  EXPECT_EQ(c["usage"].at("completion_tokens"), 5);

  HttpResponse r = http_request(d.socket(), "POST", "/v1/chat/completions", body + R"(,"stream":true})");
  ASSERT_EQ(r.status, 200);
  const auto events = sse_events(r.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  json::object first = parse_object(events.front());
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"].at(0).at("delta").at("role"), "assistant");
  std::string text;
  for (size_t i = 1; i + 2 < events.size(); ++i)
    text += parse_object(events[i])["choices"].at(0).at("delta").at("content").as_string();
  EXPECT_EQ(text, msg.at("content").as_string());
  json::object last = parse_object(events[events.size() - 2]);
  EXPECT_EQ(last["choices"].at(0).at("finish_reason"), "length");
  EXPECT_EQ(last["usage"].at("completion_tokens"), 5);

  // A model without a recognised template: a 400 that names it; /v1/completions still works.
  json::object err =
      post_json(d, "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"Hi"}]})", 400);
  EXPECT_EQ(err["error"].at("code"), "unsupported_chat_template");
  EXPECT_NE(std::string(err["error"].at("message").as_string()).find("'tiny'"), std::string::npos);
  post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"Hi","max_tokens":2})");
}

TEST(DaemonApi, SessionContinuationEqualsOneGeneration) {
  DaemonProcess d;
  const std::vector<int32_t> p1{1, 450, 4996, 17354}, p2{29871, 13, 3492};
  json::object a = post_json(d, "/strata/v1/generate",
                             R"({"model":"tiny","prompt":)" + ids_json(p1) + R"(,"max_tokens":5,"temperature":0})");
  const std::string session = std::string(a["session"].as_string());
  EXPECT_EQ(session.size(), 32u);
  ASSERT_EQ(a["finish_reason"], "length");
  const auto g1 = ids(a["tokens"]);
  ASSERT_EQ(g1.size(), 5u);
  json::object b = post_json(d, "/strata/v1/generate",
                             R"({"model":"tiny","prompt":)" + ids_json(p2) +
                                 R"(,"max_tokens":6,"temperature":0,"session":")" + session + R"("})");
  EXPECT_EQ(b["session"], json::value(session));
  EXPECT_EQ(b["usage"].at("prompt_tokens"), 3) << "the history is not resent";
  const auto g2 = ids(b["tokens"]);

  std::vector<int32_t> whole = p1;
  whole.insert(whole.end(), g1.begin(), g1.end());
  whole.insert(whole.end(), p2.begin(), p2.end());
  json::object one =
      post_json(d, "/strata/v1/generate",
                R"({"model":"tiny","prompt":)" + ids_json(whole) + R"(,"max_tokens":6,"temperature":0})");
  EXPECT_EQ(ids(one["tokens"]), g2);
  EXPECT_NE(one["session"], json::value(session));

  // The session as listed and fetched.
  json::object list = get_json(d, "/strata/v1/sessions");
  ASSERT_EQ(list["sessions"].as_array().size(), 2u);
  json::object s = get_json(d, "/strata/v1/sessions/" + session);
  EXPECT_EQ(s["id"], json::value(session));
  EXPECT_EQ(s["model"], "tiny");
  EXPECT_EQ(s["tokens"].as_int64(), static_cast<int64_t>(whole.size() + g2.size()));
  EXPECT_GT(s["kv_bytes"].as_int64(), 0);
  EXPECT_TRUE(s["text"].is_string());
  EXPECT_GT(s["created"].as_int64(), 0);

  // Text prompts continue too, and streaming carries token events then the final object.
  HttpResponse r =
      http_request(d.socket(), "POST", "/strata/v1/generate",
                   R"({"model":"tiny","prompt":" more","max_tokens":3,"temperature":0,"stream":true,"session":")" +
                       session + R"("})");
  ASSERT_EQ(r.status, 200);
  auto events = sse_events(r.body);
  ASSERT_EQ(events.size(), 5u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(parse_object(events[i])["token"].is_int64());
  json::object fin = parse_object(events[3]);
  EXPECT_EQ(fin["session"], json::value(session));
  EXPECT_EQ(fin["tokens"].as_array().size(), 3u);
  EXPECT_EQ(events[4], "[DONE]");

  HttpResponse del = http_request(d.socket(), "DELETE", "/strata/v1/sessions/" + session);
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(parse_object(del.body)["deleted"], json::value(session));
  EXPECT_EQ(http_request(d.socket(), "GET", "/strata/v1/sessions/" + session).status, 404);
  EXPECT_EQ(http_request(d.socket(), "DELETE", "/strata/v1/sessions/" + session).status, 404);
}

TEST(DaemonApi, UnknownModelListsKnownOnes) {
  DaemonProcess d(two_models());
  for (const char* target : {"/v1/completions", "/strata/v1/generate"}) {
    json::object e = post_json(d, target, R"({"model":"nope","prompt":"x"})", 404);
    EXPECT_EQ(e["error"].at("type"), "not_found");
    const std::string msg(e["error"].at("message").as_string());
    EXPECT_NE(msg.find("nope"), std::string::npos);
    EXPECT_NE(msg.find("tiny, tinychat"), std::string::npos) << msg;
  }
}

TEST(DaemonApi, StatusAndMetrics) {
  DaemonProcess d;
  json::object s = get_json(d, "/strata/v1/status");
  EXPECT_TRUE(s["version"].is_string());
  EXPECT_GE(s["uptime_s"].as_int64(), 0);
  ASSERT_EQ(s["models"].as_array().size(), 1u);
  json::object m = s["models"].at(0).as_object();
  EXPECT_EQ(m["name"], "tiny");
  EXPECT_EQ(m["path"], json::value(tiny_path()));
  EXPECT_EQ(m["loaded"], false) << "models load on first use";
  EXPECT_EQ(m["loading"], false);

  post_json(d, "/strata/v1/generate", R"({"model":"tiny","prompt":"Hello","max_tokens":4})");
  s = get_json(d, "/strata/v1/status");
  m = s["models"].at(0).as_object();
  EXPECT_EQ(m["loaded"], true);
  EXPECT_GT(m["memory"].at("weights_bytes").as_int64(), 0);
  EXPECT_GT(m["memory"].at("kv_bytes").as_int64(), 0);
  EXPECT_EQ(m["sessions"], 1);
  EXPECT_EQ(m["queue"].at("queued"), 0);
  EXPECT_EQ(m["queue"].at("running"), 0);
  ASSERT_EQ(s["sessions"].as_array().size(), 1u);
  EXPECT_TRUE(s["sessions"].at(0).at("id").is_string());
  EXPECT_NE(d.log().find("loading model tiny"), std::string::npos) << "a progress line in the log";

  http_request(d.socket(), "GET", "/nowhere");
  HttpResponse r = http_request(d.socket(), "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"].rfind("text/plain; version=0.0.4", 0), 0u);
  const std::string& t = r.body;
  EXPECT_NE(t.find("strata_requests_total{route=\"/strata/v1/generate\",status=\"200\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("strata_requests_total{route=\"unknown\",status=\"404\"} 1\n"), std::string::npos) << t;
  EXPECT_EQ(metric(t, "strata_tokens_generated_total"), 4);
  EXPECT_EQ(metric(t, "strata_sessions"), 1);
  EXPECT_GT(metric(t, "strata_kv_bytes"), 0);
  EXPECT_NE(t.find("strata_model_loaded{model=\"tiny\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("strata_request_duration_seconds_count{route=\"/strata/v1/generate\"} 1\n"), std::string::npos);
}

TEST(DaemonApi, DisconnectCancelsStreamingAndWaitingRequests) {
  DaemonProcess d(two_models("[limits]\nmax_tokens = 4000\n"));
  post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"warm up","max_tokens":1})");
  {
    HttpConnection c = HttpConnection::unix_socket(d.socket());
    c.send_request("POST", "/v1/completions",
                   R"({"model":"tiny","prompt":"Hello","max_tokens":4000,"temperature":0,"stream":true})");
    ASSERT_EQ(c.read_head().status, 200);
    ASSERT_TRUE(c.next_event());
  }  // closed mid-stream
  EXPECT_TRUE(wait_status(d, [](const json::object& s) {
    return s.at("requests").at("generating") == 0 && s.at("models").at(0).at("queue").at("running") == 0;
  })) << "the request is gone soon after the client";
  {
    // Not streaming: the daemon notices the closed socket while it waits.
    HttpConnection c = HttpConnection::unix_socket(d.socket());
    c.send_request("POST", "/v1/completions", R"({"model":"tiny","prompt":"Hello","max_tokens":4000,"temperature":0})");
    EXPECT_TRUE(wait_status(d, [](const json::object& s) { return s.at("requests").at("generating") == 1; }));
  }
  EXPECT_TRUE(wait_status(d, [](const json::object& s) { return s.at("requests").at("generating") == 0; }));
  const std::string m = http_request(d.socket(), "GET", "/metrics").body;
  EXPECT_LT(metric(m, "strata_tokens_generated_total"), 1 + 2 * 4000 - 100) << "both stopped early";
  EXPECT_NE(m.find("strata_requests_total{route=\"/v1/completions\",status=\"499\"} 2\n"), std::string::npos) << m;
  // And the daemon still serves.
  post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"Hello","max_tokens":2})");
}

TEST(DaemonApi, KeepAliveServesManyRequestsOnOneConnection) {
  DaemonProcess d;
  HttpConnection c = HttpConnection::unix_socket(d.socket());
  for (int i = 0; i < 5; ++i) {
    c.send_request(
        "POST", "/v1/completions",
        R"({"model":"tiny","prompt":"Hi","max_tokens":2,"stream":)" + std::string(i % 2 ? "true" : "false") + "}");
    HttpResponse r = c.read_response();
    EXPECT_EQ(r.status, 200) << r.body;
    c.send_request("GET", "/v1/models");
    EXPECT_EQ(c.read_response().status, 200);
  }
  // Two requests written at once (pipelined) are answered in order.
  c.send_raw("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\nGET /strata/v1/status HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(parse_object(c.read_response().body)["object"], "list");
  EXPECT_TRUE(parse_object(c.read_response().body).contains("uptime_s"));
}

TEST(DaemonApi, LimitsAnswer429AndTheDaemonKeepsServing) {
  DaemonProcess d(
      two_models("[server]\nmax_connections = 3\n[limits]\nmax_tokens = 4000\nmax_sequences = 1\nmax_queue = 0\n"
                 "[models.small_budget]\npath = \"" +
                 tiny_path() + "\"\n"));
  // One running request fills the batch; with no queue, the next is refused.
  HttpConnection busy = HttpConnection::unix_socket(d.socket());
  busy.send_request("POST", "/v1/completions",
                    R"({"model":"tiny","prompt":"Hello","max_tokens":4000,"temperature":0,"stream":true})");
  ASSERT_EQ(busy.read_head().status, 200);
  ASSERT_TRUE(busy.next_event());
  json::object e = post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":2})", 429);
  EXPECT_EQ(e["error"].at("type"), "rate_limited");
  EXPECT_EQ(e["error"].at("code"), "queue_full");
  // Connections past max_connections (3: `busy`, two idle ones, then this) get 429 too.
  HttpConnection idle1 = HttpConnection::unix_socket(d.socket());
  HttpConnection idle2 = HttpConnection::unix_socket(d.socket());
  HttpResponse over = http_request(d.socket(), "GET", "/v1/models");
  EXPECT_EQ(over.status, 429) << over.body;
  idle1.close();
  idle2.close();
  busy.close();
  EXPECT_TRUE(wait_status(d, [](const json::object& s) { return s.at("requests").at("generating") == 0; }));
  post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":2})");
}

TEST(DaemonApi, MemoryBudgetRefusesAModelThatDoesNotFit) {
  DaemonOptions o;
  o.config_text = "[memory]\nbudget = \"1MiB\"\n";
  DaemonProcess d(o);
  json::object e = post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":2})", 429);
  EXPECT_EQ(e["error"].at("code"), "memory_budget");
  EXPECT_NE(std::string(e["error"].at("message").as_string()).find("memory budget"), std::string::npos);
  EXPECT_EQ(http_request(d.socket(), "GET", "/v1/models").status, 200);
}

TEST(DaemonApi, MemoryBudgetRefusesARequestWhoseContextWouldNotFit) {
  // mini-llama2-Q8_0: 21.5 MB of weights, 2048 bytes of f16 KV per token (4 layers x 4 KV heads
  // x 32 x 2 x 2). A 22 MiB budget leaves ~1.5 MB: a short request (one 256-token page, 0.5 MB)
  // fits; one that may grow to 1,500 tokens (6 pages, 3 MB) is refused before it starts.
  DaemonOptions o;
  o.tiny_model = false;
  o.config_text = "[memory]\nbudget = \"22MiB\"\n[models.mini]\npath = \"" +
                  strata::test::shared_path("models/mini-llama2-Q8_0.gguf").string() + "\"\n";
  DaemonProcess d(o);
  post_json(d, "/v1/completions", R"({"model":"mini","prompt":"x","max_tokens":8})");
  json::object e = post_json(d, "/v1/completions", R"({"model":"mini","prompt":"x","max_tokens":1500})", 429);
  EXPECT_EQ(e["error"].at("code"), "memory_budget");
  const std::string message(e["error"].at("message").as_string());
  EXPECT_NE(message.find("tokens needs"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(22u << 20)), std::string::npos) << message;  // the budget, in bytes
  post_json(d, "/v1/completions", R"({"model":"mini","prompt":"x","max_tokens":8})");  // still serving
}

TEST(DaemonApi, AModelThatFailsToLoadIsA500AndTheDaemonKeepsServing) {
  DaemonProcess d(two_models("[models.broken]\npath = \"/nonexistent/model.gguf\"\n"));
  json::object e = post_json(d, "/v1/completions", R"({"model":"broken","prompt":"x"})", 500);
  EXPECT_EQ(e["error"].at("code"), "model_load_failed");
  EXPECT_NE(std::string(e["error"].at("message").as_string()).find("broken"), std::string::npos);
  json::object s = get_json(d, "/strata/v1/status");
  bool found = false;
  for (const auto& m : s["models"].as_array())
    if (m.at("name") == "broken") {
      found = true;
      EXPECT_EQ(m.at("loaded"), false);
      EXPECT_TRUE(m.as_object().contains("last_error"));
    }
  EXPECT_TRUE(found);
  post_json(d, "/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":2})");
  EXPECT_TRUE(d.wait_for_log("model broken failed to load")) << d.log();
}

TEST(DaemonApi, IdleUnloadKeepsSessionHistory) {
  DaemonOptions o;
  o.config_text = "[memory]\nidle_unload_seconds = 1\n";
  DaemonProcess d(o);
  const std::vector<int32_t> p1{1, 450, 4996}, p2{17354, 29871};
  json::object a = post_json(d, "/strata/v1/generate",
                             R"({"model":"tiny","prompt":)" + ids_json(p1) + R"(,"max_tokens":4,"temperature":0})");
  const std::string session(a["session"].as_string());
  const auto g1 = ids(a["tokens"]);
  ASSERT_TRUE(wait_status(
      d, [](const json::object& s) { return s.at("models").at(0).at("loaded") == false; }, 15000))
      << "the idle model is unloaded";
  EXPECT_TRUE(d.wait_for_log("unloading model tiny (idle)")) << d.log();
  json::object s = get_json(d, "/strata/v1/sessions/" + session);
  EXPECT_EQ(s["kv_resident"], false) << "its KV went with the model";
  EXPECT_EQ(s["tokens"].as_int64(), static_cast<int64_t>(p1.size() + g1.size()));
  // The next request reloads the model and re-prefills the stored tokens: same result as one go.
  json::object b = post_json(d, "/strata/v1/generate",
                             R"({"model":"tiny","prompt":)" + ids_json(p2) +
                                 R"(,"max_tokens":5,"temperature":0,"session":")" + session + R"("})");
  std::vector<int32_t> whole = p1;
  whole.insert(whole.end(), g1.begin(), g1.end());
  whole.insert(whole.end(), p2.begin(), p2.end());
  json::object one =
      post_json(d, "/strata/v1/generate",
                R"({"model":"tiny","prompt":)" + ids_json(whole) + R"(,"max_tokens":5,"temperature":0})");
  EXPECT_EQ(ids(b["tokens"]), ids(one["tokens"]));
}

}  // namespace
}  // namespace strata::test
