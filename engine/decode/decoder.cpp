#include "engine/decode/decoder.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/core/error.h"
#include "engine/decode/attention.h"
#include "engine/threads/thread_pool.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/ops/ops.h"

namespace strata {
namespace {

const float* f32(const TensorRef& t) { return reinterpret_cast<const float*>(t.data); }

}  // namespace

Decoder::Decoder(const Model& model, ThreadPool& pool) : model_(model), d_(model.desc()), pool_(pool) {
  const int pairs = static_cast<int>(d_.rope_dim / 2);
  inv_freq_.resize(pairs);
  const auto& factors = model.weights().rope_freq_factors;
  for (int i = 0; i < pairs; ++i) {
    double f = std::pow(static_cast<double>(d_.rope_freq_base), -2.0 * i / d_.rope_dim);
    f *= d_.rope_freq_scale;
    if (!factors.empty()) f /= factors[i];
    inv_freq_[i] = static_cast<float>(f);
  }
}

void Decoder::forward(std::span<const int32_t> tokens, KvCache& kv, std::span<float> logits, bool all_logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t V = d_.n_vocab;
  if (n == 0) throw Error(ErrorKind::InvalidArgument, "forward: no tokens");
  if (static_cast<int64_t>(logits.size()) < (all_logits ? n * V : V))
    throw Error(ErrorKind::InvalidArgument, "forward: logits buffer too small");
  for (int32_t t : tokens)
    if (t < 0 || t >= static_cast<int32_t>(V))
      throw Error(ErrorKind::InvalidArgument, "token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                                  std::to_string(V - 1) + ")");
  kv.reserve(n);
  for (int64_t begin = 0; begin < n; begin += kMaxBatch) {
    const int64_t len = std::min(kMaxBatch, n - begin);
    const bool last = begin + len == n;
    float* out = all_logits ? logits.data() + begin * V : (last ? logits.data() : nullptr);
    forward_batch(tokens.subspan(begin, len), kv, out, all_logits);
  }
}

void Decoder::forward_batch(std::span<const int32_t> tokens, KvCache& kv, float* logits, bool all_logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t E = d_.n_embd, Q = int64_t(d_.n_head) * d_.head_dim, KV = int64_t(d_.n_head_kv) * d_.head_dim;
  const int64_t F = d_.n_ff;
  const int64_t pos0 = kv.size();
  x_.resize(n * E);
  xn_.resize(n * std::max(E, Q));
  q_.resize(n * Q);
  k_.resize(n * KV);
  v_.resize(n * KV);
  attn_.resize(n * Q);
  tmp_.resize(n * E);
  gate_.resize(n * F);
  up_.resize(n * F);

  const ModelWeights& w = model_.weights();
  WeightStore& store = model_.weight_store();
  store.begin_layer(-1);
  const auto to_float = cpu::kernels_for(w.token_embd.type).to_float;
  for (int64_t t = 0; t < n; ++t) {
    float* row = x_.data() + t * E;
    to_float(w.token_embd.row(tokens[t]), row, E);
    if (d_.embd_scale != 1.0f)
      for (int64_t i = 0; i < E; ++i) row[i] *= d_.embd_scale;
  }
  for (int l = 0; l < static_cast<int>(d_.n_layer); ++l) {
    store.begin_layer(l);
    layer(l, n, pos0, kv);
    store.end_layer(l);
  }
  kv.commit(pos0 + n);

  if (logits) {
    // Only the rows whose logits are wanted go through the output matrix.
    const int64_t first = all_logits ? 0 : n - 1;
    const int64_t rows = n - first;
    norm(w.output_norm, w.output_norm_b, x_.data() + first * E, xn_.data(), rows);
    matmul(w.output, xn_.data(), rows, logits, TensorRef{});
  }
  store.end_layer(-1);
}

void Decoder::layer(int l, int64_t n, int64_t pos0, KvCache& kv) {
  const LayerWeights& L = model_.weights().layers[l];
  const int64_t E = d_.n_embd, Q = int64_t(d_.n_head) * d_.head_dim, F = d_.n_ff;

  // Attention block.
  norm(L.attn_norm, L.attn_norm_b, x_.data(), xn_.data(), n);
  matmul(L.wq, xn_.data(), n, q_.data(), L.bq);
  matmul(L.wk, xn_.data(), n, k_.data(), L.bk);
  matmul(L.wv, xn_.data(), n, v_.data(), L.bv);
  rope_rows(q_.data(), n, d_.n_head, pos0);
  rope_rows(k_.data(), n, d_.n_head_kv, pos0);
  kv.write(l, pos0, n, k_.data(), v_.data());
  kv.spans(l, pos0 + n, spans_);
  AttentionShape shape{static_cast<int>(d_.n_head), static_cast<int>(d_.n_head_kv), static_cast<int>(d_.head_dim),
                       1.0f / std::sqrt(static_cast<float>(d_.head_dim))};
  attention(shape, q_.data(), n, pos0, spans_, attn_.data(), pool_);
  matmul(L.wo, attn_.data(), n, tmp_.data(), L.bo);
  cpu::add(x_.data(), tmp_.data(), n * E);

  // Feed-forward block.
  norm(L.ffn_norm, L.ffn_norm_b, x_.data(), xn_.data(), n);
  matmul(L.ffn_up, xn_.data(), n, up_.data(), TensorRef{});
  if (d_.ffn_kind == STRATA_FFN_GATED) {
    matmul(L.ffn_gate, xn_.data(), n, gate_.data(), TensorRef{});
    if (d_.activation == STRATA_ACT_SILU)
      cpu::silu_mul(gate_.data(), up_.data(), n * F);
    else
      cpu::gelu_mul(gate_.data(), up_.data(), n * F);
  } else {
    // Plain FFN: act(up(x)), computed as act(up) * 1.
    std::fill(gate_.begin(), gate_.begin() + n * F, 1.0f);
    std::swap(gate_, up_);
    if (d_.activation == STRATA_ACT_SILU)
      cpu::silu_mul(gate_.data(), up_.data(), n * F);
    else
      cpu::gelu_mul(gate_.data(), up_.data(), n * F);
  }
  matmul(L.ffn_down, gate_.data(), n, tmp_.data(), TensorRef{});
  cpu::add(x_.data(), tmp_.data(), n * E);
  (void)Q;
}

void Decoder::norm(const TensorRef& w, const TensorRef& b, const float* x, float* y, int64_t n) {
  const int64_t E = d_.n_embd;
  for (int64_t t = 0; t < n; ++t) {
    if (d_.norm_type == STRATA_NORM_RMS) {
      cpu::rms_norm(x + t * E, f32(w), y + t * E, E, d_.norm_eps);
      if (b.data) cpu::add(y + t * E, f32(b), E);
    } else {
      cpu::layer_norm(x + t * E, f32(w), b.data ? f32(b) : nullptr, y + t * E, E, d_.norm_eps);
    }
  }
}

void Decoder::rope_rows(float* x, int64_t n, int n_heads, int64_t pos0) {
  const int pairs = static_cast<int>(inv_freq_.size());
  std::vector<float> c(pairs), s(pairs);
  const int64_t row = int64_t(n_heads) * d_.head_dim;
  for (int64_t t = 0; t < n; ++t) {
    const double pos = static_cast<double>(pos0 + t);
    for (int i = 0; i < pairs; ++i) {
      const float theta = static_cast<float>(pos * inv_freq_[i]);
      c[i] = std::cos(theta);
      s[i] = std::sin(theta);
    }
    cpu::rope(x + t * row, n_heads, static_cast<int>(d_.head_dim), static_cast<int>(d_.rope_dim), c.data(), s.data(),
              d_.rope_type == STRATA_ROPE_NEOX);
  }
}

void Decoder::matmul(const TensorRef& w, const float* x, int64_t n, float* y, const TensorRef& bias) {
  mm_.run(w, x, n, y, pool_);
  if (bias.data)
    for (int64_t t = 0; t < n; ++t) cpu::add(y + t * w.rows(), f32(bias), w.rows());
}

uint64_t Decoder::scratch_bytes() const {
  uint64_t floats = x_.capacity() + xn_.capacity() + q_.capacity() + k_.capacity() + v_.capacity() + attn_.capacity() +
                    tmp_.capacity() + gate_.capacity() + up_.capacity();
  return floats * sizeof(float);
}

}  // namespace strata
