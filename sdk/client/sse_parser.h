// Server-sent events (the text/event-stream format), parsed from body bytes as they arrive.
// Each dispatched event hands over its type ("" unless an `event:` field named one) and its data
// (the `data:` lines joined by '\n'). Comments, `id:` and `retry:` are ignored.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace strata::libclient {

class SseParser {
 public:
  // Returns false to stop.
  using EventSink = std::function<bool(std::string_view type, std::string_view data)>;

  // Returns false when the sink asked to stop. Throws CallError(STRATA_ERR_PROTOCOL) when a line
  // or an event grows past kMaxEvent.
  bool feed(std::string_view bytes, const EventSink& sink);
  // Whether bytes of an undispatched event are pending (a stream that ended mid-event).
  bool pending() const { return !line_.empty() || has_data_ || !bom_.empty(); }

  static constexpr size_t kMaxEvent = 64 * 1024 * 1024;

 private:
  bool feed_lines(std::string_view bytes, const EventSink& sink);
  bool line(std::string_view l, const EventSink& sink);

  std::string line_;
  std::string data_;
  std::string type_;
  bool has_data_ = false;
  bool skip_lf_ = false;  // the last line ended with CR: an LF right after belongs to it
  bool bom_checked_ = false;
  std::string bom_;  // the stream's first bytes while they may still be a byte order mark
};

}  // namespace strata::libclient
