// The transport under the C API: one keep-alive connection, requests and responses, errors
// mapped to strata_result codes with the daemon's messages.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "sdk/client/connection.h"
#include "sdk/client/endpoint.h"
#include "sdk/client/http_parser.h"
#include "strata/strata.h"

namespace strata::libclient {

struct CoreOptions {
  std::string socket_path;  // empty: the default, resolved at every connection
  std::string tcp_address;  // empty: the socket
  std::string bearer_token;
  int connect_timeout_ms = 5000;
  int io_timeout_ms = 0;  // 0: no limit
};

class ClientCore {
 public:
  // Receives a 2xx response's body bytes as they arrive; returns false to cancel.
  using BodySink = std::function<bool(const ResponseHead&, std::string_view)>;

  explicit ClientCore(CoreOptions options) : options_(std::move(options)) {}

  // Connects when not connected. Throws CallError.
  void connect();
  // The endpoint of the current or next connection.
  std::string endpoint_description();

  // GET/DELETE/POST with a JSON body (or none); returns the 2xx response body parsed as JSON.
  // Throws CallError: the daemon's 4xx/5xx (mapped), protocol, I/O, timeout.
  boost::json::value request_json(std::string_view method, const std::string& target, const std::string* body);
  // A request whose 2xx body is not JSON (a session archive): streamed to `sink`, so it is not
  // bounded by kMaxBody. Errors as request_json.
  ResponseHead request_to_sink(std::string_view method, const std::string& target, std::string_view accept,
                               const BodySink& sink);
  // POST with a JSON body, streaming the 2xx body to `sink`. Returns the head (its media type
  // tells the caller whether it was streamed as events); a false from the sink closes the
  // connection and throws CallError(STRATA_ERR_CANCELLED).
  ResponseHead request_stream(const std::string& target, const std::string& body, const BodySink& sink);

  // For shared-memory channels (shm_channel.h): whether requests go over a Unix socket (only it
  // can carry a descriptor), which connection is open (Connection::serial), and the descriptor
  // the last answer carried.
  bool unix_endpoint() const { return !resolve_endpoint().tcp; }
  uint64_t connection_serial() const { return connection_.serial(); }
  int take_passed_fd() { return connection_.take_fd(); }
  // Connects, first dropping a kept-alive connection the daemon has closed meanwhile, so that the
  // connection the next request uses is known before it is sent.
  void ensure_fresh_connection();

  // The largest non-streamed response body accepted.
  static constexpr size_t kMaxBody = 256u * 1024 * 1024;

 private:
  struct Reply {
    ResponseHead head;
    std::string body;
  };
  Endpoint resolve_endpoint() const;
  Reply call(std::string_view method, const std::string& target, const std::string* body, std::string_view accept,
             const BodySink* sink);
  Reply exchange(const std::string& request, const BodySink* sink, bool& nothing_received);

  CoreOptions options_;
  Connection connection_;
  std::optional<Endpoint> endpoint_;  // of the open connection
};

// The result code for an HTTP error status (>= 400), and for an error `type` string sent inside
// an event stream.
strata_result result_for_status(int status);
strata_result result_for_error_type(std::string_view type);
// Throws the CallError for a daemon error response: its message from
// {"error":{"message",...}}, or the status line when the body is not of that shape.
[[noreturn]] void throw_http_error(const ResponseHead& head, const std::string& body);

// Percent-encodes a path segment (a session id) so that it cannot name another route.
std::string encode_path_segment(std::string_view s);

}  // namespace strata::libclient
