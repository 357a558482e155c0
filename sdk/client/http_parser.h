// HTTP/1.1 responses, parsed incrementally from whatever bytes arrive: the head (status line and
// header fields), then the body decoded from Content-Length, chunked transfer coding, or the end
// of the connection. Written for one client's needs: it refuses what it does not understand
// (other transfer codings, 101) with CallError(STRATA_ERR_PROTOCOL), and bounds every buffer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::libclient {

struct ResponseHead {
  int status = 0;
  int minor_version = 1;  // HTTP/1.x
  std::string reason;
  std::vector<std::pair<std::string, std::string>> fields;  // names lower-cased, values trimmed

  // The value of the first field with this (lower-case) name, or nullptr.
  const std::string* find(std::string_view name) const;
  // The media type of Content-Type, lower-cased, without parameters ("text/event-stream").
  std::string media_type() const;
};

class ResponseParser {
 public:
  // Receives decoded body bytes; returns false to stop parsing (the caller cancels).
  using BodySink = std::function<bool(std::string_view)>;

  // Feeds bytes from the connection. Returns false when the sink asked to stop; bytes after the
  // end of the response are ignored (and make the connection not reusable).
  bool feed(std::string_view data, const BodySink& sink);
  // The connection reached its end. Completes a body delimited by the close; throws
  // CallError(STRATA_ERR_IO) when the response was cut short.
  void finish();

  bool head_complete() const { return state_ > State::Head; }
  bool complete() const { return state_ == State::Done; }
  bool received_anything() const { return received_; }
  const ResponseHead& head() const { return head_; }
  // Whether the connection may carry another request once this response is complete.
  bool keep_alive() const { return keep_alive_ && !trailing_bytes_; }

  // Bounds: the head, one chunk-size or trailer line.
  static constexpr size_t kMaxHead = 64 * 1024;
  static constexpr size_t kMaxLine = 8 * 1024;

 private:
  enum class State { Head, Length, ChunkSize, ChunkData, ChunkDataEnd, Trailers, UntilClose, Done };

  void parse_head(std::string_view text);
  void start_body();
  // Appends to line_ up to and including '\n'; true with the line (without CR LF) when complete.
  bool take_line(std::string_view& data, std::string& line);

  State state_ = State::Head;
  ResponseHead head_;
  std::string buffer_;     // the head as it arrives
  std::string line_;       // a partial line
  uint64_t remaining_ = 0; // body or chunk bytes still to come
  bool keep_alive_ = true;
  bool trailing_bytes_ = false;
  bool received_ = false;
};

// The bytes of one request. `body` may be null (no body); `token`, when not empty, is sent as
// a bearer token.
std::string build_request(std::string_view method, std::string_view target, std::string_view host,
                          std::string_view token, std::string_view accept, const std::string* body);

}  // namespace strata::libclient
