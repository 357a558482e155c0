#include "sdk/client/client_core.h"

#include <cctype>

#include <boost/json/parse.hpp>

#include "sdk/client/call_error.h"

namespace strata::libclient {

namespace json = boost::json;

strata_result result_for_status(int status) {
  switch (status) {
    case 401:
    case 403:
      return STRATA_ERR_UNAUTHORIZED;
    case 404:
      return STRATA_ERR_NOT_FOUND;
    case 429:
      return STRATA_ERR_RATE_LIMITED;
    default:
      if (status >= 500) return STRATA_ERR_SERVER;
      if (status >= 400) return STRATA_ERR_INVALID_REQUEST;
      return STRATA_ERR_PROTOCOL;
  }
}

strata_result result_for_error_type(std::string_view type) {
  if (type == "invalid_request_error") return STRATA_ERR_INVALID_REQUEST;
  if (type == "not_found") return STRATA_ERR_NOT_FOUND;
  if (type == "rate_limited") return STRATA_ERR_RATE_LIMITED;
  if (type == "unauthorized") return STRATA_ERR_UNAUTHORIZED;
  return STRATA_ERR_SERVER;
}

void throw_http_error(const ResponseHead& head, const std::string& body) {
  std::string message;
  json::error_code ec;
  const json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* e = v.as_object().if_contains("error")) {
      if (e->is_object()) {
        if (const json::value* m = e->as_object().if_contains("message"); m && m->is_string())
          message = std::string(m->as_string());
      } else if (e->is_string()) {
        message = std::string(e->as_string());
      }
    }
  }
  if (message.empty()) {
    message = "HTTP " + std::to_string(head.status) + (head.reason.empty() ? "" : " " + head.reason);
    std::string snippet = body.substr(0, 200);
    for (char& c : snippet)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    if (!snippet.empty()) message += ": " + snippet;
  }
  throw CallError(result_for_status(head.status), message, head.status);
}

std::string encode_path_segment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Endpoint ClientCore::resolve_endpoint() const {
  for (char c : options_.bearer_token)
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
      throw CallError(STRATA_ERR_INVALID_ARGUMENT, "the bearer token contains spaces or control characters");
  if (!options_.tcp_address.empty()) return parse_tcp_address(options_.tcp_address);
  Endpoint e;
  e.path = options_.socket_path.empty() ? default_socket_path() : options_.socket_path;
  return e;
}

std::string ClientCore::endpoint_description() {
  if (endpoint_ && connection_.is_open()) return endpoint_->describe();
  return resolve_endpoint().describe();
}

void ClientCore::connect() {
  if (connection_.is_open()) return;
  Endpoint e = resolve_endpoint();
  connection_.open(e, options_.connect_timeout_ms > 0 ? options_.connect_timeout_ms : 5000);
  endpoint_ = std::move(e);
}

void ClientCore::ensure_fresh_connection() {
  if (connection_.is_open() && !connection_.reusable()) connection_.close();
  connect();
}

ClientCore::Reply ClientCore::exchange(const std::string& request, const BodySink* sink, bool& nothing_received) {
  nothing_received = true;
  const int timeout = options_.io_timeout_ms;
  ResponseParser parser;
  Reply reply;
  try {
    // A daemon that stopped reading may have answered first (413 for a body over its limit):
    // that answer is the error to report, not the broken send.
    const bool sent_all = connection_.send_all(request, timeout);
    const auto body_sink = [&](std::string_view part) -> bool {
      const ResponseHead& h = parser.head();
      if (sink && h.status >= 200 && h.status < 300) return (*sink)(h, part);
      if (reply.body.size() + part.size() > kMaxBody)
        protocol_error("a response body larger than " + std::to_string(kMaxBody) + " bytes");
      reply.body.append(part);
      return true;
    };
    char buffer[16384];
    while (!parser.complete()) {
      const size_t n = connection_.receive(buffer, sizeof buffer, timeout);
      if (n == 0) {
        if (!sent_all && nothing_received)
          throw CallError(STRATA_ERR_IO, "the connection to stratad broke while sending the request");
        parser.finish();
        break;
      }
      nothing_received = false;
      if (!parser.feed(std::string_view(buffer, n), body_sink)) {
        connection_.close();
        throw CallError(STRATA_ERR_CANCELLED, "cancelled by the token callback");
      }
    }
  } catch (...) {
    connection_.close();
    throw;
  }
  if (!parser.keep_alive()) connection_.close();
  reply.head = parser.head();
  return reply;
}

ClientCore::Reply ClientCore::call(std::string_view method, const std::string& target, const std::string* body,
                                   std::string_view accept, const BodySink* sink) {
  Endpoint e = resolve_endpoint();
  const std::string host = e.tcp ? e.describe().substr(4) : "localhost";
  const std::string request = build_request(method, target, host, options_.bearer_token, accept, body);
  for (int attempt = 0;; ++attempt) {
    bool reused = connection_.is_open();
    if (reused && !connection_.reusable()) {
      connection_.close();
      reused = false;
    }
    connect();
    bool nothing_received = true;
    try {
      Reply reply = exchange(request, sink, nothing_received);
      if (reply.head.status >= 400) throw_http_error(reply.head, reply.body);
      if (reply.head.status < 200 || reply.head.status >= 300)
        protocol_error("unexpected status " + std::to_string(reply.head.status));
      return reply;
    } catch (const CallError& err) {
      // A kept-alive connection that the daemon closed just as the request went out: the
      // request was not seen, so it is sent once more on a fresh connection.
      if (attempt == 0 && reused && nothing_received && err.code() == STRATA_ERR_IO) continue;
      throw;
    }
  }
}

json::value ClientCore::request_json(std::string_view method, const std::string& target, const std::string* body) {
  Reply reply = call(method, target, body, "application/json", nullptr);
  json::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (ec) protocol_error(std::string(method) + " " + target + " did not return JSON (" + ec.message() + ")");
  return v;
}

ResponseHead ClientCore::request_to_sink(std::string_view method, const std::string& target, std::string_view accept,
                                         const BodySink& sink) {
  return call(method, target, nullptr, accept, &sink).head;
}

ResponseHead ClientCore::request_stream(const std::string& target, const std::string& body, const BodySink& sink) {
  return call("POST", target, &body, "text/event-stream, application/json", &sink).head;
}

}  // namespace strata::libclient
