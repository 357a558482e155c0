// libstrata's HTTP response and SSE parsers, fed byte streams split at every position.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sdk/client/call_error.h"
#include "sdk/client/client_core.h"
#include "sdk/client/endpoint.h"
#include "sdk/client/http_parser.h"
#include "sdk/client/sse_parser.h"

namespace strata::libclient {
namespace {

struct Parsed {
  ResponseHead head;
  std::string body;
  bool complete = false;
  bool keep_alive = false;
};

// Feeds `bytes` in pieces of `step` bytes (0: all at once), then the end of the stream when
// `close` is set.
Parsed parse(const std::string& bytes, size_t step = 0, bool close = false) {
  ResponseParser p;
  Parsed out;
  const auto sink = [&](std::string_view part) {
    out.body.append(part);
    return true;
  };
  if (step == 0) step = bytes.size() ? bytes.size() : 1;
  for (size_t i = 0; i < bytes.size(); i += step) p.feed(std::string_view(bytes).substr(i, step), sink);
  if (close) p.finish();
  out.head = p.head();
  out.complete = p.complete();
  out.keep_alive = p.keep_alive();
  return out;
}

strata_result parse_error(const std::string& bytes, bool close = false) {
  try {
    parse(bytes, 0, close);
  } catch (const CallError& e) {
    return e.code();
  }
  return STRATA_OK;
}

TEST(SdkHttpParser, ContentLengthBodyAtEverySplit) {
  const std::string r =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 11\r\n\r\n{\"a\":\"bc\"}\n";
  for (size_t step = 1; step <= r.size(); ++step) {
    Parsed p = parse(r, step);
    ASSERT_TRUE(p.complete) << step;
    EXPECT_EQ(p.head.status, 200);
    EXPECT_EQ(p.head.reason, "OK");
    EXPECT_EQ(p.head.media_type(), "application/json");
    EXPECT_EQ(p.body, "{\"a\":\"bc\"}\n");
    EXPECT_TRUE(p.keep_alive);
  }
}

TEST(SdkHttpParser, ChunkedBodyWithExtensionsAndTrailersAtEverySplit) {
  const std::string r =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
      "5;name=value\r\nHello\r\n1\r\n \r\nA \r\nworld! :-)\r\n0\r\nX-Trailer: yes\r\n\r\n";
  for (size_t step = 1; step <= r.size(); ++step) {
    Parsed p = parse(r, step);
    ASSERT_TRUE(p.complete) << step;
    EXPECT_EQ(p.body, "Hello world! :-)");
    EXPECT_TRUE(p.keep_alive);
  }
}

TEST(SdkHttpParser, BodyUntilCloseAndConnectionClose) {
  Parsed p = parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"x\":1}", 3, true);
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.body, "{\"x\":1}");
  EXPECT_FALSE(p.keep_alive);
  p = parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_TRUE(p.complete);
  EXPECT_FALSE(p.keep_alive);
  p = parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_FALSE(p.keep_alive);
  p = parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_TRUE(p.keep_alive);
}

TEST(SdkHttpParser, InterimResponsesAndBareLineFeeds) {
  Parsed p = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 1);
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.head.status, 204);
  p = parse("HTTP/1.1 404 Not Found\nContent-Length: 3\n\nabc", 2);
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.head.status, 404);
  EXPECT_EQ(p.body, "abc");
}

TEST(SdkHttpParser, BytesAfterTheResponseMakeTheConnectionUnusable) {
  Parsed p = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE");
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.body, "ok");
  EXPECT_FALSE(p.keep_alive);
}

TEST(SdkHttpParser, RefusesMalformedResponses) {
  EXPECT_EQ(parse_error("SSH-2.0-OpenSSH\r\n\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/2 200 OK\r\n\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 2x0 OK\r\n\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"),
            STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 101 Switching Protocols\r\n\r\n"), STRATA_ERR_PROTOCOL);
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nX: " + std::string(ResponseParser::kMaxHead, 'a')), STRATA_ERR_PROTOCOL);
  // Cut short: an I/O error, not a protocol error.
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true), STRATA_ERR_IO);
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true), STRATA_ERR_IO);
  EXPECT_EQ(parse_error("", true), STRATA_ERR_IO);
}

TEST(SdkHttpParser, SinkCanStopTheBody) {
  ResponseParser p;
  int calls = 0;
  const std::string r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n";
  EXPECT_FALSE(p.feed(r, [&](std::string_view) { return ++calls < 1; }));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(p.complete());
}

TEST(SdkHttpParser, RequestBytes) {
  const std::string body = "{\"a\":1}";
  const std::string r = build_request("POST", "/strata/v1/generate", "localhost", "tok", "text/event-stream", &body);
  EXPECT_EQ(r.rfind("POST /strata/v1/generate HTTP/1.1\r\nHost: localhost\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("\r\nAuthorization: Bearer tok\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nContent-Length: 7\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nAccept: text/event-stream\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 11), "\r\n\r\n{\"a\":1}");
  const std::string get = build_request("GET", "/v1/models", "localhost", "", "application/json", nullptr);
  EXPECT_EQ(get.find("Authorization"), std::string::npos);
  EXPECT_EQ(get.find("Content-Length"), std::string::npos);
}

struct Event {
  std::string type, data;
  bool operator==(const Event&) const = default;
};

std::vector<Event> events(const std::string& stream, size_t step) {
  SseParser p;
  std::vector<Event> out;
  for (size_t i = 0; i < stream.size(); i += step)
    p.feed(std::string_view(stream).substr(i, step), [&](std::string_view type, std::string_view data) {
      out.push_back({std::string(type), std::string(data)});
      return true;
    });
  return out;
}

TEST(SdkSseParser, EventsAtEverySplitAndEveryLineEnding) {
  for (const std::string eol : {"\n", "\r\n", "\r"}) {
    const std::string stream = "\xEF\xBB\xBF: keep-alive comment" + eol + "data: {\"token\":1}" + eol + eol +
                               "event: error" + eol + "data:line one" + eol + "data:  two" + eol + "id: 7" + eol +
                               "retry: 100" + eol + eol + eol + "data" + eol + eol + "data: [DONE]" + eol + eol;
    const std::vector<Event> want = {
        {"", "{\"token\":1}"}, {"error", "line one\n two"}, {"", ""}, {"", "[DONE]"}};
    for (size_t step = 1; step <= stream.size(); ++step) ASSERT_EQ(events(stream, step), want) << "step " << step;
  }
}

TEST(SdkSseParser, AnUnfinishedEventIsPendingAndNotDispatched) {
  SseParser p;
  int n = 0;
  p.feed("data: {\"a\":1}\n", [&](std::string_view, std::string_view) { return ++n, true; });
  EXPECT_EQ(n, 0);
  EXPECT_TRUE(p.pending());
  p.feed("\n", [&](std::string_view, std::string_view) { return ++n, true; });
  EXPECT_EQ(n, 1);
  EXPECT_FALSE(p.pending());
}

TEST(SdkSseParser, SinkCanStop) {
  SseParser p;
  int n = 0;
  EXPECT_FALSE(p.feed("data: 1\n\ndata: 2\n\n", [&](std::string_view, std::string_view) { return ++n < 1; }));
  EXPECT_EQ(n, 1);
}

TEST(SdkEndpoint, TcpAddresses) {
  Endpoint e = parse_tcp_address("127.0.0.1:8765");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, "8765");
  EXPECT_EQ(e.describe(), "tcp:127.0.0.1:8765");
  e = parse_tcp_address("[::1]:80");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.describe(), "tcp:[::1]:80");
  EXPECT_EQ(parse_tcp_address("localhost:1").host, "localhost");
  for (const char* bad : {"", "8765", "host:", ":80", "host:0", "host:65536", "host:12a", "::1:80", "[::1]80", "[::1"})
    EXPECT_THROW(parse_tcp_address(bad), CallError) << bad;
}

TEST(SdkEndpoint, PathSegmentsAreEncoded) {
  EXPECT_EQ(encode_path_segment("0123abcdef"), "0123abcdef");
  EXPECT_EQ(encode_path_segment("../status"), "..%2Fstatus");
  EXPECT_EQ(encode_path_segment("a b?c#d"), "a%20b%3Fc%23d");
}

TEST(SdkErrorMapping, StatusesAndTypes) {
  EXPECT_EQ(result_for_status(400), STRATA_ERR_INVALID_REQUEST);
  EXPECT_EQ(result_for_status(413), STRATA_ERR_INVALID_REQUEST);
  EXPECT_EQ(result_for_status(401), STRATA_ERR_UNAUTHORIZED);
  EXPECT_EQ(result_for_status(403), STRATA_ERR_UNAUTHORIZED);
  EXPECT_EQ(result_for_status(404), STRATA_ERR_NOT_FOUND);
  EXPECT_EQ(result_for_status(429), STRATA_ERR_RATE_LIMITED);
  EXPECT_EQ(result_for_status(500), STRATA_ERR_SERVER);
  EXPECT_EQ(result_for_status(503), STRATA_ERR_SERVER);
  EXPECT_EQ(result_for_error_type("rate_limited"), STRATA_ERR_RATE_LIMITED);
  EXPECT_EQ(result_for_error_type("not_found"), STRATA_ERR_NOT_FOUND);
  EXPECT_EQ(result_for_error_type("server_error"), STRATA_ERR_SERVER);
}

}  // namespace
}  // namespace strata::libclient
