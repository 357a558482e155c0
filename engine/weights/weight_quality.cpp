#include "engine/weights/weight_quality.h"

#include <cmath>
#include <vector>

#include "engine/core/error.h"
#include "engine/decode/decoder.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/sampler/sampler.h"

namespace strata {
namespace {

// log-softmax of one row, in double for a stable KL.
void log_softmax(const float* logits, int64_t n, std::vector<double>& out) {
  double max = logits[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, double(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(logits[i] - max);
  const double log_z = max + std::log(sum);
  out.resize(n);
  for (int64_t i = 0; i < n; ++i) out[i] = logits[i] - log_z;
}

}  // namespace

WeightQuality compare_weights(const Model& reference, const Model& compressed, std::span<const int32_t> tokens,
                              ThreadPool& pool) {
  if (tokens.size() < 2) throw Error(ErrorKind::InvalidArgument, "compare_weights: fewer than 2 tokens");
  const auto& d = reference.desc();
  if (compressed.desc().n_vocab != d.n_vocab || compressed.desc().n_layer != d.n_layer)
    throw Error(ErrorKind::InvalidArgument, "compare_weights: the two models differ in shape");
  Decoder ref_dec(reference, pool), cmp_dec(compressed, pool);
  const KvGeometry geo{int(d.n_layer), int(d.n_head_kv), int(d.head_dim)};
  const int64_t V = d.n_vocab, n = static_cast<int64_t>(tokens.size());
  SequenceKvCache ref_kv(geo, n), cmp_kv(geo, n);
  // Chunks keep the logits of a few dozen positions in memory, not of the whole text.
  constexpr int64_t kChunk = 64;
  std::vector<float> ref_logits(kChunk * V), cmp_logits(kChunk * V);
  std::vector<double> lp, lq;
  WeightQuality q;
  double kl_sum = 0;
  int64_t agree = 0;
  for (int64_t begin = 0; begin + 1 < n; begin += kChunk) {
    const int64_t len = std::min(kChunk, n - 1 - begin);  // the last token has nothing to predict
    std::span<const int32_t> chunk(tokens.data() + begin, len);
    ref_dec.forward(chunk, ref_kv, ref_logits, true);
    cmp_dec.forward(chunk, cmp_kv, cmp_logits, true);
    for (int64_t t = 0; t < len; ++t) {
      log_softmax(&ref_logits[t * V], V, lp);
      log_softmax(&cmp_logits[t * V], V, lq);
      double kl = 0;
      for (int64_t i = 0; i < V; ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
      kl_sum += kl;
      agree += argmax({&ref_logits[t * V], size_t(V)}) == argmax({&cmp_logits[t * V], size_t(V)});
      ++q.positions;
    }
  }
  q.mean_kl = kl_sum / double(q.positions);
  q.greedy_agreement = double(agree) / double(q.positions);
  return q;
}

}  // namespace strata
