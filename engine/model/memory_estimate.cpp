#include "engine/model/memory_estimate.h"

#include <algorithm>

#include "engine/decode/decoder.h"
#include "engine/decode/matmul.h"
#include "engine/kv/sequence_kv_cache.h"
#include "engine/model/model.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/kernels.h"

namespace strata {
namespace {

// Bytes of the converted activations of the largest matmul input of a batch (see MatMul).
uint64_t matmul_input_bytes(const Model& model, int64_t batch) {
  uint64_t most = 0;
  auto consider = [&](const TensorRef& w, int64_t rows) {
    if (!w.data) return;
    most = std::max<uint64_t>(most, row_bytes(cpu::vec_dot_type(w.type), w.cols()) * rows);
    // The prefill GEMM packs activations in blocks of 8 tokens instead (kernels/cpu/gemm.h).
    if (const cpu::GemmKernels* g = cpu::gemm_kernels_for(w.type); g && rows >= MatMul::kGemmMinTokens)
      most = std::max<uint64_t>(most, g->act_bytes(w.cols()) * ((rows + cpu::kGemmBlockTokens - 1) / cpu::kGemmBlockTokens));
  };
  for (const auto& L : model.weights().layers)
    for (const TensorRef* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) consider(*t, batch);
  consider(model.weights().output, 1);
  return most;
}

// Bytes of packed weight panels one thread holds for the prefill GEMM (see MatMul::run_gemm).
uint64_t gemm_panel_bytes(const Model& model, int64_t batch, int threads) {
  if (batch < MatMul::kGemmMinTokens) return 0;
  uint64_t most = 0;
  for (const auto& L : model.weights().layers)
    for (const TensorRef* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
      if (t->data) most = std::max(most, MatMul::gemm_panel_bytes_per_thread(*t, threads));
  return most;
}

}  // namespace

MemoryEstimate estimate_memory(const Model& model, int64_t context, KvType kv, int64_t batch, int64_t page_tokens,
                               int threads) {
  const auto& d = model.desc();
  MemoryEstimate e;
  e.context = context;
  e.kv = KvFormat::make(kv, int(d.head_dim));
  for (const auto& t : model.file().tensors()) e.weights_bytes += t.bytes;

  const KvGeometry geo{int(d.n_layer), int(d.n_head_kv), int(d.head_dim)};
  const int64_t pages = (context + page_tokens - 1) / page_tokens;
  e.kv_bytes = uint64_t(pages) * SequenceKvCache::page_bytes(geo, e.kv, page_tokens);
  e.kv_bytes_per_token = double(SequenceKvCache::page_bytes(geo, e.kv, page_tokens)) / double(page_tokens);

  // Decoder::run_step's buffers for a batch of b rows: x, xn, q, k, v, attn, tmp, gate, up.
  const int64_t b = std::min<int64_t>(std::max<int64_t>(batch, 1), Decoder::kMaxBatch);
  const int64_t E = d.n_embd, Q = int64_t(d.n_head) * d.head_dim, KV = int64_t(d.n_head_kv) * d.head_dim, F = d.n_ff;
  const uint64_t floats = b * (E + std::max(E, Q) + Q + 2 * KV + Q + E + 2 * F);
  // Plus the logits of one token, held by the caller.
  e.scratch_bytes = floats * sizeof(float) + matmul_input_bytes(model, b) + uint64_t(d.n_vocab) * sizeof(float) +
                    uint64_t(std::max(threads, 1)) * gemm_panel_bytes(model, b, std::max(threads, 1));
  e.total_bytes = e.weights_bytes + e.kv_bytes + e.scratch_bytes;
  return e;
}

}  // namespace strata
