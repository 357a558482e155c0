#include "daemon/metrics/metrics.h"

#include <charconv>
#include <sstream>

namespace strata::daemon {
namespace {

std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// The shortest text that reads back as `v`.
std::string number(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

void Metrics::record_request(std::string_view route, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), status}];
  auto it = durations_.find(route);
  if (it == durations_.end()) it = durations_.emplace(std::string(route), Histogram{}).first;
  Histogram& h = it->second;
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) {
      ++h.counts[i];
      break;
    }
  ++h.count;
  h.sum += seconds;
}

void Metrics::add_generated_tokens(int64_t n) {
  std::lock_guard lock(mu_);
  generated_tokens_ += static_cast<uint64_t>(n);
}

void Metrics::add_prompt_tokens(int64_t n) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += static_cast<uint64_t>(n);
}

void Metrics::add_session_evicted(uint64_t bytes_freed) {
  std::lock_guard lock(mu_);
  ++sessions_evicted_;
  evicted_bytes_ += bytes_freed;
}

uint64_t Metrics::sessions_evicted() const {
  std::lock_guard lock(mu_);
  return sessions_evicted_;
}

std::string Metrics::render(const Gauges& g) const {
  std::ostringstream os;
  std::lock_guard lock(mu_);
  os << "# HELP strata_requests_total HTTP requests answered, by route and status.\n"
        "# TYPE strata_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    os << "strata_requests_total{route=\"" << label(key.first) << "\",status=\"" << key.second << "\"} " << n << "\n";
  os << "# HELP strata_tokens_generated_total Tokens generated for all requests.\n"
        "# TYPE strata_tokens_generated_total counter\n"
        "strata_tokens_generated_total "
     << generated_tokens_ << "\n";
  os << "# HELP strata_prompt_tokens_total Prompt tokens submitted for all requests.\n"
        "# TYPE strata_prompt_tokens_total counter\n"
        "strata_prompt_tokens_total "
     << prompt_tokens_ << "\n";
  os << "# HELP strata_sessions_evicted_total Idle sessions whose KV was dropped to fit the memory budget.\n"
        "# TYPE strata_sessions_evicted_total counter\n"
        "strata_sessions_evicted_total "
     << sessions_evicted_ << "\n";
  os << "# HELP strata_sessions_evicted_bytes_total KV bytes freed by evicting idle sessions.\n"
        "# TYPE strata_sessions_evicted_bytes_total counter\n"
        "strata_sessions_evicted_bytes_total "
     << evicted_bytes_ << "\n";
  os << "# HELP strata_request_duration_seconds Time from a request's arrival to its last byte, by route.\n"
        "# TYPE strata_request_duration_seconds histogram\n";
  for (const auto& [route, h] : durations_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.counts[i];
      os << "strata_request_duration_seconds_bucket{route=\"" << label(route) << "\",le=\"" << number(kBuckets[i])
         << "\"} " << cumulative << "\n";
    }
    os << "strata_request_duration_seconds_bucket{route=\"" << label(route) << "\",le=\"+Inf\"} " << h.count << "\n";
    os << "strata_request_duration_seconds_sum{route=\"" << label(route) << "\"} " << number(h.sum) << "\n";
    os << "strata_request_duration_seconds_count{route=\"" << label(route) << "\"} " << h.count << "\n";
  }
  os << "# HELP strata_sessions Sessions held in memory.\n# TYPE strata_sessions gauge\nstrata_sessions " << g.sessions
     << "\n";
  os << "# HELP strata_kv_bytes Bytes of KV cache held by sessions and running requests.\n"
        "# TYPE strata_kv_bytes gauge\nstrata_kv_bytes "
     << g.kv_bytes << "\n";
  os << "# HELP strata_requests_in_flight Requests being answered now.\n"
        "# TYPE strata_requests_in_flight gauge\nstrata_requests_in_flight "
     << g.requests_in_flight << "\n";
  os << "# HELP strata_connections Open client connections.\n# TYPE strata_connections gauge\nstrata_connections "
     << g.connections << "\n";
  os << "# HELP strata_model_loaded 1 when the model is loaded.\n# TYPE strata_model_loaded gauge\n";
  for (const auto& m : g.models)
    os << "strata_model_loaded{model=\"" << label(m.name) << "\"} " << (m.loaded ? 1 : 0) << "\n";
  os << "# HELP strata_model_loading 1 while the model is being loaded.\n# TYPE strata_model_loading gauge\n";
  for (const auto& m : g.models)
    os << "strata_model_loading{model=\"" << label(m.name) << "\"} " << (m.loading ? 1 : 0) << "\n";
  os << "# HELP strata_model_weights_bytes Bytes of weights resident for the model.\n"
        "# TYPE strata_model_weights_bytes gauge\n";
  for (const auto& m : g.models)
    os << "strata_model_weights_bytes{model=\"" << label(m.name) << "\"} " << m.weights_bytes << "\n";
  os << "# HELP strata_model_kv_bytes Bytes of KV cache pages the model's sequences hold.\n"
        "# TYPE strata_model_kv_bytes gauge\n";
  for (const auto& m : g.models)
    os << "strata_model_kv_bytes{model=\"" << label(m.name) << "\"} " << m.kv_bytes << "\n";
  os << "# HELP strata_model_scratch_bytes Bytes of activation and logit buffers of the model's scheduler.\n"
        "# TYPE strata_model_scratch_bytes gauge\n";
  for (const auto& m : g.models)
    os << "strata_model_scratch_bytes{model=\"" << label(m.name) << "\"} " << m.scratch_bytes << "\n";
  os << "# HELP strata_queue_requests Requests of the model waiting (queued) or in the batch (running).\n"
        "# TYPE strata_queue_requests gauge\n";
  for (const auto& m : g.models) {
    os << "strata_queue_requests{model=\"" << label(m.name) << "\",state=\"queued\"} " << m.queued << "\n";
    os << "strata_queue_requests{model=\"" << label(m.name) << "\",state=\"running\"} " << m.running << "\n";
  }
  return os.str();
}

}  // namespace strata::daemon
