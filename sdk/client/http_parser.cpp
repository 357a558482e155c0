#include "sdk/client/http_parser.h"

#include <algorithm>
#include <cctype>

#include "sdk/client/call_error.h"

namespace strata::libclient {

namespace {

#define STRATA_HTTP_STR2(x) #x
#define STRATA_HTTP_STR(x) STRATA_HTTP_STR2(x)
constexpr const char* kUserAgentVersion =
    STRATA_HTTP_STR(STRATA_VERSION_MAJOR) "." STRATA_HTTP_STR(STRATA_VERSION_MINOR) "." STRATA_HTTP_STR(STRATA_VERSION_PATCH);

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Whether a comma-separated field value lists `token` (case-insensitive).
bool lists_token(const std::string& value, std::string_view token) {
  std::string_view rest = value;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    if (lower(trim(rest.substr(0, comma))) == token) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

uint64_t parse_decimal(std::string_view s, const char* what) {
  if (s.empty() || s.size() > 18) protocol_error(std::string("bad ") + what);
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') protocol_error(std::string("bad ") + what);
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

const std::string* ResponseHead::find(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (k == name) return &v;
  return nullptr;
}

std::string ResponseHead::media_type() const {
  const std::string* ct = find("content-type");
  if (!ct) return {};
  return lower(trim(std::string_view(*ct).substr(0, ct->find(';'))));
}

bool ResponseParser::take_line(std::string_view& data, std::string& line) {
  const auto nl = data.find('\n');
  const size_t take = nl == std::string_view::npos ? data.size() : nl + 1;
  if (line_.size() + take > kMaxLine) protocol_error("a line longer than " + std::to_string(kMaxLine) + " bytes");
  line_.append(data.substr(0, take));
  data.remove_prefix(take);
  if (nl == std::string_view::npos) return false;
  line_.pop_back();  // '\n'
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  line.swap(line_);
  line_.clear();
  return true;
}

void ResponseParser::parse_head(std::string_view text) {
  head_ = ResponseHead{};
  bool first = true;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      first = false;
      // HTTP/1.x SSS[ reason]
      if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' || line[7] < '0' || line[7] > '9' ||
          !std::isdigit(static_cast<unsigned char>(line[9])) || !std::isdigit(static_cast<unsigned char>(line[10])) ||
          !std::isdigit(static_cast<unsigned char>(line[11])) || (line.size() > 12 && line[12] != ' '))
        protocol_error("not an HTTP/1.x status line: '" + std::string(line.substr(0, 80)) + "'");
      head_.minor_version = line[7] - '0';
      head_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
      if (head_.status < 100) protocol_error("status " + std::to_string(head_.status));
      if (line.size() > 13) head_.reason = std::string(line.substr(13));
      continue;
    }
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') protocol_error("folded header lines");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) protocol_error("a header line without a name");
    const std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) protocol_error("a bad header name");
    head_.fields.emplace_back(lower(name), std::string(trim(line.substr(colon + 1))));
  }
  if (first) protocol_error("an empty response head");
}

void ResponseParser::start_body() {
  const ResponseHead& h = head_;
  const std::string* connection = h.find("connection");
  keep_alive_ = h.minor_version >= 1 ? !(connection && lists_token(*connection, "close"))
                                     : (connection && lists_token(*connection, "keep-alive"));
  if (h.status == 204 || h.status == 304) {
    state_ = State::Done;
    return;
  }
  if (const std::string* te = h.find("transfer-encoding")) {
    // Only "chunked" (possibly after identity) is understood; it must be the last coding.
    std::string v = lower(*te);
    const auto comma = v.rfind(',');
    if (std::string(trim(comma == std::string::npos ? std::string_view(v) : std::string_view(v).substr(comma + 1))) !=
            "chunked" ||
        (comma != std::string::npos && lower(trim(std::string_view(v).substr(0, comma))) != "identity"))
      protocol_error("unsupported Transfer-Encoding '" + *te + "'");
    state_ = State::ChunkSize;
    return;
  }
  const std::string* length = nullptr;
  for (const auto& [k, v] : h.fields) {
    if (k != "content-length") continue;
    if (length && trim(*length) != trim(v)) protocol_error("conflicting Content-Length fields");
    length = &v;
  }
  if (length) {
    remaining_ = parse_decimal(trim(*length), "Content-Length");
    state_ = remaining_ == 0 ? State::Done : State::Length;
    return;
  }
  keep_alive_ = false;
  state_ = State::UntilClose;
}

bool ResponseParser::feed(std::string_view data, const BodySink& sink) {
  if (!data.empty()) received_ = true;
  std::string line;
  while (!data.empty()) {
    switch (state_) {
      case State::Head: {
        const size_t old = buffer_.size();
        buffer_.append(data.substr(0, std::min(data.size(), kMaxHead + 4 - old)));
        // The head ends at the first empty line ("\r\n\r\n", or "\n\n" from lenient servers).
        size_t end = std::string::npos, from = old > 3 ? old - 3 : 0;
        for (size_t i = from; i < buffer_.size(); ++i) {
          if (buffer_[i] != '\n') continue;
          if (i + 1 < buffer_.size() && buffer_[i + 1] == '\n') end = i + 2;
          else if (i + 2 < buffer_.size() && buffer_[i + 1] == '\r' && buffer_[i + 2] == '\n') end = i + 3;
          if (end != std::string::npos) break;
        }
        if (end == std::string::npos) {
          if (buffer_.size() > kMaxHead) protocol_error("a response head larger than " + std::to_string(kMaxHead) + " bytes");
          data = {};
          break;
        }
        data.remove_prefix(end - old);
        parse_head(std::string_view(buffer_).substr(0, end));
        buffer_.clear();
        if (head_.status == 101) protocol_error("an unrequested protocol switch (101)");
        if (head_.status < 200) break;  // 1xx: an interim response; the real head follows
        start_body();
        break;
      }
      case State::Length: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
        remaining_ -= n;
        const std::string_view part = data.substr(0, n);
        data.remove_prefix(n);
        if (remaining_ == 0) state_ = State::Done;
        if (!sink(part)) return false;
        break;
      }
      case State::UntilClose: {
        const std::string_view part = data;
        data = {};
        if (!sink(part)) return false;
        break;
      }
      case State::ChunkSize: {
        if (!take_line(data, line)) break;
        std::string_view s = trim(std::string_view(line).substr(0, line.find(';')));
        if (s.empty() || s.size() > 15 || !std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
          protocol_error("a bad chunk size '" + std::string(line.substr(0, 40)) + "'");
        remaining_ = std::stoull(std::string(s), nullptr, 16);
        state_ = remaining_ == 0 ? State::Trailers : State::ChunkData;
        break;
      }
      case State::ChunkData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
        remaining_ -= n;
        const std::string_view part = data.substr(0, n);
        data.remove_prefix(n);
        if (remaining_ == 0) state_ = State::ChunkDataEnd;
        if (!sink(part)) return false;
        break;
      }
      case State::ChunkDataEnd:
        if (!take_line(data, line)) break;
        if (!line.empty()) protocol_error("chunk data longer than its size");
        state_ = State::ChunkSize;
        break;
      case State::Trailers:
        if (!take_line(data, line)) break;
        if (line.empty()) state_ = State::Done;
        break;
      case State::Done:
        trailing_bytes_ = true;
        data = {};
        break;
    }
  }
  return true;
}

void ResponseParser::finish() {
  if (state_ == State::UntilClose) state_ = State::Done;
  if (state_ == State::Done) {
    keep_alive_ = false;
    return;
  }
  throw CallError(STRATA_ERR_IO, received_ ? "stratad closed the connection before the response was complete"
                                           : "stratad closed the connection without answering");
}

std::string build_request(std::string_view method, std::string_view target, std::string_view host,
                          std::string_view token, std::string_view accept, const std::string* body) {
  std::string r;
  r.reserve(256 + (body ? body->size() : 0));
  r.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  r.append("Host: ").append(host).append("\r\n");
  r.append("User-Agent: libstrata/").append(kUserAgentVersion).append("\r\n");
  r.append("Accept: ").append(accept).append("\r\n");
  if (!token.empty()) r.append("Authorization: Bearer ").append(token).append("\r\n");
  if (body) {
    r.append("Content-Type: application/json\r\n");
    r.append("Content-Length: ").append(std::to_string(body->size())).append("\r\n");
  }
  r.append("\r\n");
  if (body) r.append(*body);
  return r;
}

}  // namespace strata::libclient
