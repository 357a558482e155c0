// Round-trip time of one generate request against a running stratad, with its bulk payload over
// the Unix socket (JSON) or through a shared-memory channel, for payloads from 1 KiB to 64 MiB.
// Prints a table and the crossover: the smallest payload from which the channel wins at every
// larger size. bench/README.md records figures and the command.
//
// The payload is what a client inspecting the model moves: a prompt of token ids in, and per
// generated token the K most likely tokens with their probabilities out (8 bytes an entry), or
// the full-vocabulary logits of the last position (one row). Both transports run the same
// request (same seed, so the same tokens and the same model work); only the transport differs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "strata/strata.hpp"

namespace {

namespace sc = strata::client;
using Clock = std::chrono::steady_clock;

struct Row {
  std::string what;
  int32_t steps = 1;
  int32_t k = 0;
  bool logits = false;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Milliseconds of one request, and the payload bytes it moved (prompt + outputs).
double run(sc::Client& c, const sc::GenerateRequest& req, bool want_shm, uint64_t& bytes) {
  const auto t0 = Clock::now();
  const sc::Response r = c.generate(req);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (r.used_shm != want_shm) {
    std::fprintf(stderr, "bench_shm: the request went %s, not %s\n", r.used_shm ? "through shm" : "over the socket",
                 want_shm ? "through shm" : "over the socket");
    std::exit(1);
  }
  bytes = req.prompt_tokens.size() * 4 + r.top_prob_tokens.size() * 8 + r.logits.size() * 4;
  return ms;
}

void usage() {
  std::fprintf(stderr,
               "usage: bench_shm --socket PATH [--model NAME] [--reps N] [--max-mib M]\n"
               "  against a running stratad; NAME defaults to the daemon's first model\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket, model;
  int reps = 5;
  uint64_t max_bytes = 64ull << 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--socket") socket = next();
    else if (a == "--model") model = next();
    else if (a == "--reps") reps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--max-mib") max_bytes = std::strtoull(next().c_str(), nullptr, 10) << 20;
    else {
      usage();
      return 2;
    }
  }
  if (socket.empty()) {
    usage();
    return 2;
  }
  try {
    sc::Options so, mo;
    so.socket_path = mo.socket_path = socket;
    so.shm_threshold_bytes = -1;  // never
    mo.shm_threshold_bytes = 1;   // always
    sc::Client via_socket(so), via_shm(mo);
    if (model.empty()) {
      const auto models = via_socket.models();
      if (models.names.empty()) throw std::runtime_error("the daemon has no models");
      model = models.names.front();
    }

    // K entries per step up to 16000 (half the Llama-2 vocabulary), then more steps.
    std::vector<Row> rows;
    for (uint64_t size = 1024; size <= max_bytes; size *= 4) {
      const uint64_t entries = size / 8;
      const int32_t k = static_cast<int32_t>(std::min<uint64_t>(entries, 16000));
      const int32_t steps = static_cast<int32_t>(std::max<uint64_t>(1, entries / static_cast<uint64_t>(k)));
      rows.push_back({"top_probs " + std::to_string(steps) + "x" + std::to_string(k), steps, k, false});
    }
    rows.push_back({"logits (1 step)", 1, 0, true});

    std::printf("%-22s %12s %12s %12s %9s\n", "payload", "bytes", "socket ms", "shm ms", "shm gain");
    std::vector<std::pair<uint64_t, bool>> wins;  // (bytes, shm faster)
    for (const Row& row : rows) {
      sc::GenerateRequest req;
      req.model = model;
      req.prompt_tokens.assign(64, 0);
      for (size_t i = 0; i < req.prompt_tokens.size(); ++i) req.prompt_tokens[i] = static_cast<int32_t>(100 + i);
      req.max_tokens = row.steps;
      req.temperature = 0;
      req.seed = 7;
      req.top_probs = row.k;
      req.logits = row.logits;
      uint64_t bytes = 0;
      run(via_socket, req, false, bytes);  // warm: model loaded, connection and channel open
      run(via_shm, req, true, bytes);
      std::vector<double> s, m;
      for (int r = 0; r < reps; ++r) {
        s.push_back(run(via_socket, req, false, bytes));
        m.push_back(run(via_shm, req, true, bytes));
      }
      const double sm = median(s), mm = median(m);
      std::printf("%-22s %12llu %12.2f %12.2f %8.2fx\n", row.what.c_str(), static_cast<unsigned long long>(bytes), sm,
                  mm, sm / mm);
      std::fflush(stdout);
      if (row.k > 0) wins.emplace_back(bytes, mm < sm);
    }
    // What a client pays once per connection to open its channel: a fresh client's first request
    // through shm against its second.
    {
      sc::GenerateRequest req;
      req.model = model;
      req.prompt_tokens = {100, 101, 102, 103};
      req.max_tokens = 1;
      req.temperature = 0;
      req.top_probs = 16;
      std::vector<double> first, second;
      uint64_t bytes = 0;
      for (int r = 0; r < reps; ++r) {
        sc::Client fresh(mo);
        first.push_back(run(fresh, req, true, bytes));
        second.push_back(run(fresh, req, true, bytes));
      }
      std::printf("opening a channel (once per connection): %.2f ms (first request %.2f ms, next %.2f ms)\n",
                  median(first) - median(second), median(first), median(second));
    }
    // The crossover: the smallest size from which shm wins at every larger one.
    uint64_t crossover = 0;
    for (auto it = wins.rbegin(); it != wins.rend() && it->second; ++it) crossover = it->first;
    if (crossover)
      std::printf("crossover: shared memory is faster from %llu bytes of payload on\n",
                  static_cast<unsigned long long>(crossover));
    else
      std::printf("crossover: none in this range (the socket was as fast at the largest size)\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_shm: %s\n", e.what());
    return 1;
  }
  return 0;
}
