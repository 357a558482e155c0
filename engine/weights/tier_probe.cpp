#include "engine/weights/tier_probe.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "engine/decode/matmul.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/model.h"
#include "engine/threads/thread_pool.h"
#include "engine/weights/aligned_buffer.h"
#include "engine/weights/direct_reader.h"
#include "engine/weights/layer_image.h"

namespace strata {
namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

namespace {

LayerImage image_of(const gguf::GgufFile& file, LayerWeights& L) {
  std::vector<TensorRef*> refs;
  std::vector<uint64_t> offsets;
  for (TensorRef* t : {&L.attn_norm, &L.attn_norm_b, &L.wq, &L.wk, &L.wv, &L.wo, &L.bq, &L.bk, &L.bv, &L.bo, &L.ffn_norm,
                       &L.ffn_norm_b, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) {
    if (t->name.empty()) continue;
    refs.push_back(t);
    offsets.push_back(file.require_tensor(t->name).offset);
  }
  return LayerImage::layout(refs, offsets);
}

}  // namespace

TierProbe probe_tiers(const gguf::GgufFile& file, const ModelWeights& weights, int threads, MemoryLedger& ledger) {
  TierProbe p;
  // Bandwidth: whole layers (large sequential reads) from four places in the file, the median
  // read counting: one read on a shared disk is noisy, right after a cache drop most of all.
  const int n = static_cast<int>(weights.layers.size());
  std::vector<int> probe_layers{n - 1, n / 2, n / 4, 0};
  std::sort(probe_layers.begin(), probe_layers.end());
  probe_layers.erase(std::unique(probe_layers.begin(), probe_layers.end()), probe_layers.end());
  std::vector<LayerWeights> copies;  // their pointers are redirected to our buffer
  std::vector<LayerImage> images;
  uint64_t most = 0;
  for (int l : probe_layers) copies.push_back(weights.layers[l]);
  for (LayerWeights& c : copies) {
    images.push_back(image_of(file, c));
    most = std::max(most, images.back().buffer_bytes);
  }
  AlignedBuffer buf(most, ledger);
  DirectReader reader(file.path());
  p.direct_io = reader.direct();
  std::vector<double> rates;
  for (size_t i = images.size(); i-- > 0;) {
    const auto t0 = Clock::now();
    images[i].read(reader, buf.data());
    rates.push_back(double(images[i].buffer_bytes) / std::max(since(t0), 1e-6));
  }
  std::sort(rates.begin(), rates.end());
  const size_t m = rates.size();
  p.ssd_bytes_per_s = m % 2 ? rates[m / 2] : 0.5 * (rates[m / 2 - 1] + rates[m / 2]);
  // Latency: small reads, the best of three.
  p.ssd_seconds_per_read = 1e30;
  for (int k = 0; k < 3; ++k) {
    const LayerImage::Run& r = images.back().runs[0];
    const uint64_t off = r.offset + (r.bytes / 3) * k;
    const auto t0 = Clock::now();
    reader.read(off, std::min<uint64_t>(4096, r.offset + r.bytes - off), buf.data());
    p.ssd_seconds_per_read = std::min(p.ssd_seconds_per_read, since(t0));
  }
  LayerWeights& L = copies.front();  // layer 0, for the compute probe
  const LayerImage& img = images.front();
  std::vector<TensorRef*> matrices;
  for (TensorRef* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
    if (!t->name.empty()) matrices.push_back(t);
  img.read(reader, buf.data());
  img.point(buf.data());

  ThreadPool pool(threads > 0 ? threads : std::max(1, int(std::thread::hardware_concurrency())));
  MatMul mm;
  int64_t widest = 0, tallest = 0;
  uint64_t matrix_bytes = 0;
  for (const TensorRef* t : matrices) {
    if (!t->data) continue;
    widest = std::max(widest, t->cols());
    tallest = std::max(tallest, t->rows());
    matrix_bytes += t->bytes;
  }
  std::vector<float> x(widest, 0.5f), y(tallest);
  double best = 1e30;
  for (int rep = 0; rep < 2; ++rep) {  // the first pass also warms the pool and the scratch
    const auto t0 = Clock::now();
    for (const TensorRef* t : matrices)
      if (t->data) mm.run(*t, x.data(), 1, y.data(), pool);
    best = std::min(best, since(t0));
  }
  p.compute_bytes_per_s = double(matrix_bytes) / std::max(best, 1e-6);
  reader.drop_cache();
  return p;
}

}  // namespace strata
