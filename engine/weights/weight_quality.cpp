#include "engine/weights/weight_quality.h"

#include <algorithm>
#include <vector>

#include "engine/core/error.h"
#include "engine/decode/decoder.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/sampler/distribution_distance.h"

namespace strata {

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
  DistributionDistance distance;
  for (int64_t begin = 0; begin + 1 < n; begin += kChunk) {
    const int64_t len = std::min(kChunk, n - 1 - begin);  // the last token has nothing to predict
    std::span<const int32_t> chunk(tokens.data() + begin, len);
    ref_dec.forward(chunk, ref_kv, ref_logits, true);
    cmp_dec.forward(chunk, cmp_kv, cmp_logits, true);
    for (int64_t t = 0; t < len; ++t)
      distance.add({&ref_logits[t * V], size_t(V)}, {&cmp_logits[t * V], size_t(V)});
  }
  return {distance.mean_kl(), distance.greedy_agreement(), distance.positions()};
}

}  // namespace strata
