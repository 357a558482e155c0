// Counters and a latency histogram, rendered in the Prometheus text format (version 0.0.4).
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::daemon {

class Metrics {
 public:
  // Upper bounds of the request-duration buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 14> kBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                   1,     2.5,  5,     10,   30,  60,   120};

  void record_request(std::string_view route, int status, double seconds);
  void add_generated_tokens(int64_t n);
  void add_prompt_tokens(int64_t n);
  // A session's KV was dropped to make room within the memory budget (daemon/sessions/session_eviction).
  void add_session_evicted(uint64_t bytes_freed);
  uint64_t sessions_evicted() const;

  // Values that are read from elsewhere when /metrics is asked for.
  struct ModelGauge {
    std::string name;
    bool loaded = false;
    bool loading = false;
    int64_t queued = 0, running = 0;
    uint64_t weights_bytes = 0;
    uint64_t kv_bytes = 0, scratch_bytes = 0;
  };
  struct Gauges {
    int64_t sessions = 0;
    uint64_t kv_bytes = 0;
    int64_t requests_in_flight = 0;
    int64_t connections = 0;
    std::vector<ModelGauge> models;
  };
  std::string render(const Gauges& gauges) const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};  // per bucket, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (route, status) -> count
  std::map<std::string, Histogram, std::less<>> durations_;   // route -> histogram
  uint64_t generated_tokens_ = 0;
  uint64_t prompt_tokens_ = 0;
  uint64_t sessions_evicted_ = 0;
  uint64_t evicted_bytes_ = 0;
};

}  // namespace strata::daemon
