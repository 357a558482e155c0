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

// Resizes a scratch buffer, growing its capacity to exactly what is needed: the memory
// accounting (scratch_bytes, estimate_memory) counts capacities.
void fit(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.capacity()) < n) v.reserve(n);
  v.resize(n);
}

// y[t] += bias for each of n rows of `width`; nothing for a matrix without a bias.
void add_bias(const TensorRef& bias, float* y, int64_t n, int64_t width) {
  if (bias.data)
    for (int64_t t = 0; t < n; ++t) cpu::add(y + t * width, f32(bias), width);
}

}  // namespace

Decoder::Decoder(const Model& model, ThreadPool& pool) : model_(model), d_(model.desc()), pool_(pool) {
  const int pairs = static_cast<int>(d_.rope_dim / 2);
  inv_freq_.resize(pairs);
  rope_cos_.resize(pairs);
  rope_sin_.resize(pairs);
  const auto& factors = model.weights().rope_freq_factors;
  for (int i = 0; i < pairs; ++i) {
    double f = std::pow(static_cast<double>(d_.rope_freq_base), -2.0 * i / d_.rope_dim);
    f *= d_.rope_freq_scale;
    if (!factors.empty()) f /= factors[i];
    inv_freq_[i] = static_cast<float>(f);
  }
}

void Decoder::check_tokens(std::span<const int32_t> tokens) const {
  const int64_t V = d_.n_vocab;
  if (tokens.empty()) throw Error(ErrorKind::InvalidArgument, "forward: no tokens");
  for (int32_t t : tokens)
    if (t < 0 || t >= static_cast<int32_t>(V))
      throw Error(ErrorKind::InvalidArgument, "token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                                  std::to_string(V - 1) + ")");
}

void Decoder::forward(std::span<const int32_t> tokens, KvCache& kv, std::span<float> logits, bool all_logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t V = d_.n_vocab;
  check_tokens(tokens);
  if (static_cast<int64_t>(logits.size()) < (all_logits ? n * V : V))
    throw Error(ErrorKind::InvalidArgument, "forward: logits buffer too small");
  kv.reserve(n);
  for (int64_t begin = 0; begin < n; begin += kMaxBatch) {
    const int64_t len = std::min(kMaxBatch, n - begin);
    const bool last = begin + len == n;
    DecodeItem item{tokens.subspan(begin, len), &kv, nullptr, all_logits};
    item.logits = all_logits ? logits.data() + begin * V : (last ? logits.data() : nullptr);
    run_step(std::span<const DecodeItem>(&item, 1));
  }
}

void Decoder::forward(std::span<const DecodeItem> items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].kv) throw Error(ErrorKind::InvalidArgument, "forward: an item without a KV cache");
    check_tokens(items[i].tokens);
    for (size_t j = 0; j < i; ++j)
      if (items[j].kv == items[i].kv) throw Error(ErrorKind::InvalidArgument, "forward: one sequence appears twice in a step");
  }
  // Reserve everything first, so that a full context fails before any cache changed.
  for (const auto& it : items)
    if (it.kv->size() + static_cast<int64_t>(it.tokens.size()) > it.kv->capacity())
      throw Error(ErrorKind::OutOfMemory, "context full: " + std::to_string(it.kv->size() + it.tokens.size()) +
                                              " tokens requested, the context holds " + std::to_string(it.kv->capacity()));
  for (const auto& it : items) it.kv->reserve(static_cast<int64_t>(it.tokens.size()));
  run_step(items);
}

void Decoder::run_step(std::span<const DecodeItem> items) {
  segments_.clear();
  positions_.clear();
  int64_t n = 0, n_out_rows = 0;
  for (const auto& it : items) {
    const int64_t len = static_cast<int64_t>(it.tokens.size());
    segments_.push_back({n, len, it.kv->size(), it.kv});
    for (int64_t t = 0; t < len; ++t) positions_.push_back(it.kv->size() + t);
    n += len;
    n_out_rows += it.logits ? (it.all_logits ? len : 1) : 0;
  }
  const int64_t E = d_.n_embd, Q = int64_t(d_.n_head) * d_.head_dim, KV = int64_t(d_.n_head_kv) * d_.head_dim;
  const int64_t F = d_.n_ff, V = d_.n_vocab;
  fit(x_, n * E);
  fit(xn_, n * std::max(E, Q));
  fit(q_, n * Q);
  fit(k_, n * KV);
  fit(v_, n * KV);
  fit(attn_, n * Q);
  fit(tmp_, n * E);
  fit(gate_, n * F);
  fit(up_, n * F);

  const ModelWeights& w = model_.weights();
  WeightStore& store = model_.weight_store();
  store.begin_layer(-1);
  const auto to_float = cpu::kernels_for(w.token_embd.type).to_float;
  int64_t row = 0;
  for (const auto& it : items)
    for (int32_t token : it.tokens) {
      float* x = x_.data() + row++ * E;
      to_float(w.token_embd.row(token), x, E);
      if (d_.embd_scale != 1.0f)
        for (int64_t i = 0; i < E; ++i) x[i] *= d_.embd_scale;
    }
  for (int l = 0; l < static_cast<int>(d_.n_layer); ++l) {
    store.begin_layer(l);
    layer(l, n);
    store.end_layer(l);
  }
  for (const auto& s : segments_) s.kv->commit(s.pos0 + s.n);

  if (n_out_rows > 0) {
    // Only the rows whose logits are wanted go through the output matrix.
    std::vector<int64_t>& rows = logit_rows_;
    rows.clear();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].logits) continue;
      const auto& s = segments_[i];
      for (int64_t t = items[i].all_logits ? 0 : s.n - 1; t < s.n; ++t) rows.push_back(s.first_row + t);
    }
    for (size_t r = 0; r < rows.size(); ++r) norm(w.output_norm, w.output_norm_b, x_.data() + rows[r] * E, xn_.data() + r * E, 1);
    const bool direct = items.size() == 1;
    if (!direct) fit(out_logits_, static_cast<int64_t>(rows.size()) * V);
    float* dst = direct ? items[0].logits : out_logits_.data();
    mm_.run(w.output, xn_.data(), static_cast<int64_t>(rows.size()), dst, pool_);
    if (!direct) {
      size_t r = 0;
      for (const auto& it : items) {
        if (!it.logits) continue;
        const size_t count = it.all_logits ? it.tokens.size() : 1;
        std::copy(out_logits_.begin() + r * V, out_logits_.begin() + (r + count) * V, it.logits);
        r += count;
      }
    }
  }
  store.end_layer(-1);
}

void Decoder::layer(int l, int64_t n) {
  const LayerWeights& L = model_.weights().layers[l];
  const int64_t E = d_.n_embd, Q = int64_t(d_.n_head) * d_.head_dim, KV = int64_t(d_.n_head_kv) * d_.head_dim;
  const int64_t F = d_.n_ff;

  // Attention block: projections over every row of the batch, attention per sequence.
  norm(L.attn_norm, L.attn_norm_b, x_.data(), xn_.data(), n);
  matmuls({{L.wq, q_.data(), L.bq}, {L.wk, k_.data(), L.bk}, {L.wv, v_.data(), L.bv}}, xn_.data(), n);
  rope_rows(q_.data(), d_.n_head);
  rope_rows(k_.data(), d_.n_head_kv);
  const AttentionShape shape{static_cast<int>(d_.n_head), static_cast<int>(d_.n_head_kv), static_cast<int>(d_.head_dim),
                             1.0f / std::sqrt(static_cast<float>(d_.head_dim))};
  for (const auto& s : segments_) {
    s.kv->write(l, s.pos0, s.n, k_.data() + s.first_row * KV, v_.data() + s.first_row * KV);
    s.kv->spans(l, s.pos0 + s.n, spans_);
    attention(shape, q_.data() + s.first_row * Q, s.n, s.pos0, spans_, attn_.data() + s.first_row * Q, pool_);
  }
  matmul(L.wo, attn_.data(), n, tmp_.data(), L.bo);
  cpu::add(x_.data(), tmp_.data(), n * E);

  // Feed-forward block.
  norm(L.ffn_norm, L.ffn_norm_b, x_.data(), xn_.data(), n);
  const TensorRef no_bias;
  if (d_.ffn_kind == STRATA_FFN_GATED) {
    matmuls({{L.ffn_up, up_.data(), no_bias}, {L.ffn_gate, gate_.data(), no_bias}}, xn_.data(), n);
  } else {
    matmul(L.ffn_up, xn_.data(), n, up_.data(), no_bias);
    // Plain FFN, act(up(x)): computed as act(up) * 1 by the same fused kernel.
    std::swap(gate_, up_);
    std::fill(up_.begin(), up_.begin() + n * F, 1.0f);
  }
  if (d_.activation == STRATA_ACT_SILU)
    cpu::silu_mul(gate_.data(), up_.data(), n * F);
  else
    cpu::gelu_mul(gate_.data(), up_.data(), n * F);
  matmul(L.ffn_down, gate_.data(), n, tmp_.data(), no_bias);
  cpu::add(x_.data(), tmp_.data(), n * E);
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

void Decoder::rope_rows(float* x, int n_heads) {
  const int pairs = static_cast<int>(inv_freq_.size());
  float* c = rope_cos_.data();
  float* s = rope_sin_.data();
  const int64_t row = int64_t(n_heads) * d_.head_dim;
  for (size_t t = 0; t < positions_.size(); ++t) {
    const double pos = static_cast<double>(positions_[t]);
    for (int i = 0; i < pairs; ++i) {
      const float theta = static_cast<float>(pos * inv_freq_[i]);
      c[i] = std::cos(theta);
      s[i] = std::sin(theta);
    }
    cpu::rope(x + t * row, n_heads, static_cast<int>(d_.head_dim), static_cast<int>(d_.rope_dim), c, s,
              d_.rope_type == STRATA_ROPE_NEOX);
  }
}

void Decoder::matmul(const TensorRef& w, const float* x, int64_t n, float* y, const TensorRef& bias) {
  if (w.codec == TensorCodec::Q4G)  // compressed at load by the tiered weight store
    q4g_mm_.run(w, x, n, y, pool_);
  else
    mm_.run(w, x, n, y, pool_);
  add_bias(bias, y, n, w.rows());
}

void Decoder::matmuls(std::initializer_list<Projection> projections, const float* x, int64_t n) {
  constexpr size_t kMax = 4;
  bool plain = projections.size() <= kMax;
  for (const Projection& p : projections) plain = plain && p.w.codec != TensorCodec::Q4G;
  if (!plain) {
    for (const Projection& p : projections) matmul(p.w, x, n, p.y, p.bias);
    return;
  }
  MatMul::Product products[kMax];
  size_t count = 0;
  for (const Projection& p : projections) products[count++] = {&p.w, p.y};
  mm_.run(std::span<const MatMul::Product>(products, count), x, n, pool_);
  for (const Projection& p : projections) add_bias(p.bias, p.y, n, p.w.rows());
}

uint64_t Decoder::scratch_bytes() const {
  uint64_t floats = x_.capacity() + xn_.capacity() + q_.capacity() + k_.capacity() + v_.capacity() + attn_.capacity() +
                    tmp_.capacity() + gate_.capacity() + up_.capacity() + out_logits_.capacity();
  return floats * sizeof(float) + mm_.scratch_bytes() + q4g_mm_.scratch_bytes();
}

}  // namespace strata
