#include "sdk/client/sse_parser.h"

#include <algorithm>

#include "sdk/client/call_error.h"

namespace strata::libclient {

bool SseParser::feed(std::string_view bytes, const EventSink& sink) {
  if (!bom_checked_) {
    // A UTF-8 byte order mark may start the stream; it is recognized across feeds.
    constexpr std::string_view kBom = "\xEF\xBB\xBF";
    while (!bytes.empty() && bom_.size() < kBom.size()) {
      bom_.push_back(bytes.front());
      bytes.remove_prefix(1);
      if (kBom.substr(0, bom_.size()) != bom_) break;
    }
    if (bom_ == kBom) {
      bom_.clear();
    } else if (kBom.substr(0, bom_.size()) == bom_) {
      return true;  // still undecided: every byte so far was consumed
    } else {
      std::string prefix;
      prefix.swap(bom_);
      bom_checked_ = true;
      if (!feed_lines(prefix, sink)) return false;
    }
    bom_checked_ = true;
  }
  return feed_lines(bytes, sink);
}

bool SseParser::feed_lines(std::string_view bytes, const EventSink& sink) {
  while (!bytes.empty()) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
        continue;
      }
    }
    const auto end = bytes.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      if (line_.size() + bytes.size() > kMaxEvent) protocol_error("an event stream line too long");
      line_.append(bytes);
      return true;
    }
    skip_lf_ = bytes[end] == '\r';
    bool go_on;
    if (line_.empty()) {
      go_on = line(bytes.substr(0, end), sink);
    } else {
      if (line_.size() + end > kMaxEvent) protocol_error("an event stream line too long");
      line_.append(bytes.substr(0, end));
      std::string l;
      l.swap(line_);
      go_on = line(l, sink);
    }
    bytes.remove_prefix(end + 1);
    if (!go_on) return false;
  }
  return true;
}

bool SseParser::line(std::string_view l, const EventSink& sink) {
  if (l.empty()) {  // dispatch
    if (!has_data_) {
      type_.clear();
      return true;
    }
    std::string data, type;
    data.swap(data_);
    type.swap(type_);
    has_data_ = false;
    return sink(type, data);
  }
  if (l.front() == ':') return true;  // comment (keep-alive)
  const auto colon = l.find(':');
  std::string_view field = l.substr(0, colon), value;
  if (colon != std::string_view::npos) {
    value = l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (data_.size() + value.size() + 1 > kMaxEvent) protocol_error("an event larger than the limit");
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    type_.assign(value);
  }
  return true;
}

}  // namespace strata::libclient
