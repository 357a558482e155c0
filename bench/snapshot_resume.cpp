// Time to first token of a resumed session (restore its KV chunks from disk, re-prefill the
// partial last page, sample) against re-prefilling its whole history, per history length and KV
// type; snapshot bytes per token; save time; and the model fingerprint's cost (first hash and
// cached). See bench/README.md ("Session snapshots").
//
//   snapshot_resume --model FILE [--ctx 1024,8192,32768] [--kv f16,q4g] [--threads N] [--dir DIR]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/decode/decoder.h"
#include "engine/core/error.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/snapshot/snapshot_store.h"
#include "engine/threads/thread_pool.h"

namespace {

using namespace strata;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

// Prefills `tokens` into `kv` in batches of `batch`, computing the logits of the last one.
void prefill(Decoder& dec, KvCache& kv, std::span<const int32_t> tokens, std::vector<float>& logits) {
  constexpr size_t kBatch = 256;
  for (size_t at = 0; at < tokens.size(); at += kBatch) {
    const auto part = tokens.subspan(at, std::min(kBatch, tokens.size() - at));
    dec.forward(part, kv, logits);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, ctx_list = "1024,8192,32768", kv_list = "f16,q4g", dir = "/tmp/strata-snapshot-bench";
  int threads = 0;
  bool resume_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--resume-only") {
      resume_only = true;
      continue;
    }
    if (i + 1 == argc) {
      std::fprintf(stderr, "option %s needs a value\n", a.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--model") model_path = v;
    else if (a == "--ctx") ctx_list = v;
    else if (a == "--kv") kv_list = v;
    else if (a == "--threads") threads = std::atoi(v.c_str());
    else if (a == "--dir") dir = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (model_path.empty()) {
    std::fprintf(stderr,
                 "usage: snapshot_resume --model FILE [--ctx 1024,8192] [--kv f16,q4g] [--threads N] [--dir DIR]\n"
                 "                       [--resume-only]   (time only the resume of sessions an earlier run left in DIR)\n");
    return 2;
  }
  try {
    auto plugins = PluginRegistry::load_default();
    auto model = Model::load(model_path, plugins);
    const auto& d = model->desc();
    const KvGeometry g{int(d.n_layer), int(d.n_head_kv), int(d.head_dim)};
    if (!resume_only) std::filesystem::remove_all(dir);

    auto t = Clock::now();
    const auto fp = snapshot::fingerprint_model_file(model_path);
    const double fp_first = since(t);
    snapshot::SnapshotStore store({dir, 0, false});
    store.fingerprint(model_path);  // fills the cache
    t = Clock::now();
    store.fingerprint(model_path);
    const double fp_cached = since(t);
    std::printf("model %s: %.1f MiB; fingerprint %.3f s (%.2f GB/s), cached %.6f s\n", model_path.c_str(),
                std::filesystem::file_size(model_path) / 1048576.0, fp_first,
                std::filesystem::file_size(model_path) / fp_first / 1e9, fp_cached);

    ThreadPool pool(threads > 0 ? threads : int(std::thread::hardware_concurrency()));
    Decoder dec(*model, pool);
    std::vector<float> logits(dec.n_vocab());
    std::printf("%-5s %7s %12s %12s %10s %10s %10s %14s\n", "kv", "ctx", "prefill_s", "resume_s", "restore_s",
                "speedup", "save_s", "bytes/token");
    for (const auto& kv_name : split(kv_list)) {
      const auto type = parse_kv_type(kv_name);
      if (!type) throw Error(ErrorKind::InvalidArgument, "unknown kv type " + kv_name);
      for (const auto& c : split(ctx_list)) {
        const int64_t ctx = std::stoll(c);
        if (ctx + 1 > int64_t(d.n_ctx_train) && d.n_ctx_train > 0) {
          std::printf("%-5s %7lld  (skipped: the history and the next token need a context of %lld; the model's is %u)\n",
                      kv_name.c_str(), (long long)ctx, (long long)ctx + 1, d.n_ctx_train);
          continue;
        }
        std::mt19937 rng{static_cast<uint32_t>(ctx)};
        std::vector<int32_t> history{1};
        while (int64_t(history.size()) < ctx) history.push_back(int32_t(3 + rng() % (d.n_vocab - 3)));
        auto kv_pool = KvPagePool::create(g, *type, 256);

        // The next turn's first token: both paths compute it, so both end with the logits the
        // first new token is sampled from.
        const std::vector<int32_t> next{int32_t(3 + rng() % (d.n_vocab - 3))};
        snapshot::KvLayout layout{fp, kv_pool->format(), g, 256};
        snapshot::SessionRow row;
        row.id = "bench-" + kv_name + "-" + c;
        row.tokens = history;
        double prefill_s = 0, save_s = 0, bytes_per_token = 0;
        if (!resume_only) {
          // Re-prefill: the whole history, then the next token.
          SequenceKvCache full(kv_pool, ctx + 16);
          t = Clock::now();
          prefill(dec, full, history, logits);
          prefill_s = since(t);
          t = Clock::now();
          const auto saved = store.save(row, layout, &full);
          save_s = since(t);
          bytes_per_token = double(saved.bytes_written) / double(saved.tokens_in_chunks);
          t = Clock::now();
          prefill(dec, full, next, logits);
          prefill_s += since(t);
        }

        // Resume: restore the chunks into a fresh pool, prefill the tail.
        auto pool2 = KvPagePool::create(g, *type, 256);
        t = Clock::now();
        auto r = store.restore(row.id, layout, pool2, ctx + 16);
        if (r.restored_tokens == 0) {
          std::printf("%-5s %7lld  (nothing restored: %s)\n", kv_name.c_str(), (long long)ctx,
                      resume_only ? "no such session in --dir" : "the save failed");
          continue;
        }
        std::vector<int32_t> tail(history.begin() + r.restored_tokens, history.end());
        tail.push_back(next[0]);
        prefill(dec, *r.kv, tail, logits);
        const double resume_s = since(t);
        std::printf("%-5s %7lld %12.3f %12.3f %10.3f %9.1fx %10.3f %14.1f\n", kv_name.c_str(), (long long)ctx, prefill_s,
                    resume_s, r.seconds, resume_only ? 0.0 : prefill_s / resume_s, save_s, bytes_per_token);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
