// GEMM packers, shared by every level: weight rows -> unsigned bytes interleaved across 8 rows
// with per-group scales (gemm_layout.h), and activation rows -> quantized bytes plus group terms.
//
// Packing costs one pass over the weights per matrix product; the product then reuses the panel
// for every token, so with hundreds of tokens this is a few percent of the work. The per-type
// decoders are plain loops over one block that the compiler vectorizes.
#include <cassert>
#include <cstring>
#include <vector>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/gemm/gemm_internal.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/quant_blocks.h"

namespace strata::cpu::detail {
namespace {

// Decoders: one weight row of k elements -> u[k], scale[k / G], min[k / G].
void decode_q4_0(const void* row, int64_t k, uint8_t* u, float* scale, float*) {
  const auto* b = static_cast<const BlockQ4_0*>(row);
  for (int64_t i = 0; i < k / 32; ++i, u += 32) {
    for (int j = 0; j < 16; ++j) {
      u[j] = b[i].qs[j] & 15;
      u[j + 16] = b[i].qs[j] >> 4;
    }
    scale[i] = fp16_to_fp32(b[i].d);
  }
}

void decode_q5_0(const void* row, int64_t k, uint8_t* u, float* scale, float*) {
  const auto* b = static_cast<const BlockQ5_0*>(row);
  for (int64_t i = 0; i < k / 32; ++i, u += 32) {
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < 16; ++j) {
      u[j] = static_cast<uint8_t>((b[i].qs[j] & 15) | (((qh >> j) & 1) << 4));
      u[j + 16] = static_cast<uint8_t>((b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
    }
    scale[i] = fp16_to_fp32(b[i].d);
  }
}

void decode_q8_0(const void* row, int64_t k, uint8_t* u, float* scale, float*) {
  const auto* b = static_cast<const BlockQ8_0*>(row);
  for (int64_t i = 0; i < k / 32; ++i, u += 32) {
    for (int j = 0; j < 32; ++j) u[j] = static_cast<uint8_t>(b[i].qs[j]) ^ 0x80;  // q + 128
    scale[i] = fp16_to_fp32(b[i].d);
  }
}

// Q4_K / Q5_K: `high` (Q5_K only) adds bit 4.
template <typename Block, bool kHigh>
void decode_q45_k(const void* row, int64_t k, uint8_t* u, float* scale, float* min) {
  const auto* b = static_cast<const Block*>(row);
  for (int64_t i = 0; i < k / kQK_K; ++i, u += kQK_K, scale += 8, min += 8) {
    uint8_t sc[8], m[8];
    unpack_q4k_scales(b[i].scales, sc, m);
    const float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    for (int j = 0; j < 8; ++j) {
      scale[j] = d * static_cast<float>(sc[j]);
      min[j] = dmin * static_cast<float>(m[j]);
    }
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        uint8_t lo = b[i].qs[32 * c + l] & 15, hi = b[i].qs[32 * c + l] >> 4;
        if constexpr (kHigh) {
          lo |= static_cast<uint8_t>(((b[i].qh[l] >> (2 * c)) & 1) << 4);
          hi |= static_cast<uint8_t>(((b[i].qh[l] >> (2 * c + 1)) & 1) << 4);
        }
        u[64 * c + l] = lo;
        u[64 * c + 32 + l] = hi;
      }
  }
}

void decode_q6_k(const void* row, int64_t k, uint8_t* u, float* scale, float*) {
  const auto* b = static_cast<const BlockQ6_K*>(row);
  for (int64_t i = 0; i < k / kQK_K; ++i, u += kQK_K, scale += 16) {
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < 16; ++j) scale[j] = d * static_cast<float>(b[i].scales[j]);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b[i].ql + 64 * h;
      const uint8_t* qh = b[i].qh + 32 * h;
      uint8_t* o = u + 128 * h;
      for (int l = 0; l < 32; ++l) {
        o[l] = static_cast<uint8_t>((ql[l] & 15) | ((qh[l] & 3) << 4));
        o[32 + l] = static_cast<uint8_t>((ql[32 + l] & 15) | (((qh[l] >> 2) & 3) << 4));
        o[64 + l] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
        o[96 + l] = static_cast<uint8_t>((ql[32 + l] >> 4) | (((qh[l] >> 6) & 3) << 4));
      }
    }
  }
}

using DecodeFn = void (*)(const void*, int64_t, uint8_t*, float*, float*);

struct TypeGemm {
  TensorType type;
  GemmFormat format;
  DecodeFn decode;
};

constexpr TypeGemm kTypes[] = {
    {TensorType::Q4_0, {32, 8, false}, decode_q4_0},
    {TensorType::Q5_0, {32, 16, false}, decode_q5_0},
    {TensorType::Q8_0, {32, 128, false}, decode_q8_0},
    {TensorType::Q4_K, {32, 0, true}, decode_q45_k<BlockQ4_K, false>},
    {TensorType::Q5_K, {32, 0, true}, decode_q45_k<BlockQ5_K, true>},
    {TensorType::Q6_K, {16, 32, false}, decode_q6_k},
};

const TypeGemm* find(TensorType t) {
  for (const auto& e : kTypes)
    if (e.type == t) return &e;
  return nullptr;
}

// Per-thread scratch of the packers (one decoded row; one quantized activation row), reused.
struct Scratch {
  std::vector<uint8_t> bytes;
  std::vector<float> scale, min;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

template <TensorType kType>
void pack_panel(const void* w, uint64_t w_row_bytes, int rows, int64_t k, void* panel) {
  const TypeGemm& e = *find(kType);
  const GemmFormat& f = e.format;
  const int64_t G = f.group, ng = f.groups(k);
  const uint64_t gs = f.group_stride();
  auto* out = static_cast<uint8_t*>(panel);
  assert(rows >= 1 && rows <= kGemmPanelRows);
  if (rows < kGemmPanelRows) std::memset(out, 0, f.panel_bytes(k));  // missing rows read as zero
  Scratch& s = scratch();
  if (static_cast<int64_t>(s.bytes.size()) < k) s.bytes.resize(k);
  if (static_cast<int64_t>(s.scale.size()) < ng) {
    s.scale.resize(ng);
    s.min.resize(ng);
  }
  for (int r = 0; r < rows; ++r) {
    e.decode(static_cast<const uint8_t*>(w) + r * w_row_bytes, k, s.bytes.data(), s.scale.data(), s.min.data());
    const uint8_t* u = s.bytes.data();
    for (int64_t g = 0; g < ng; ++g) {
      uint8_t* dst = out + g * gs;
      for (int64_t q = 0; q < G / 4; ++q) std::memcpy(dst + (q * 8 + r) * 4, u + g * G + 4 * q, 4);
      std::memcpy(dst + 8 * G + 4 * r, &s.scale[g], 4);
      if (f.has_min) std::memcpy(dst + 8 * G + 32 + 4 * r, &s.min[g], 4);
    }
  }
}

template <TensorType kType>
void pack_act(const float* x, int64_t x_stride, int n_tokens, int64_t k, void* dst) {
  const GemmFormat& f = find(kType)->format;
  const int64_t G = f.group, ng = f.groups(k);
  const uint64_t gs = f.act_group_stride();
  auto* out = static_cast<uint8_t*>(dst);
  assert(n_tokens >= 1 && n_tokens <= kGemmBlockTokens);
  if (n_tokens < kGemmBlockTokens) std::memset(out, 0, f.act_block_bytes(k));  // missing tokens are zero
  const TensorType act = vec_dot_type(kType);
  Scratch& s = scratch();
  const uint64_t qbytes = row_bytes(act, static_cast<uint64_t>(k));
  if (s.bytes.size() < qbytes) s.bytes.resize(qbytes);
  for (int t = 0; t < n_tokens; ++t) {
    quantize_activation(kType, x + t * x_stride, s.bytes.data(), k);
    // Writes one group's values and terms for token t.
    auto put = [&](int64_t g, const int8_t* q, float dx, int32_t sum) {
      uint8_t* grp = out + g * gs;
      std::memcpy(grp + t * G, q, static_cast<size_t>(G));
      const int32_t osum = -f.offset * sum;
      std::memcpy(grp + f.act_dx() + 4 * t, &dx, 4);
      std::memcpy(grp + f.act_osum() + 4 * t, &osum, 4);
      if (f.has_min) {
        const float dxs = dx * static_cast<float>(sum);
        std::memcpy(grp + f.act_dxs() + 4 * t, &dxs, 4);
      }
    };
    if (act == TensorType::Q8_0) {
      const auto* b = reinterpret_cast<const BlockQ8_0*>(s.bytes.data());
      for (int64_t g = 0; g < ng; ++g) {
        int32_t sum = 0;
        for (int j = 0; j < 32; ++j) sum += b[g].qs[j];
        put(g, b[g].qs, fp16_to_fp32(b[g].d), sum);
      }
    } else {  // Q8_K: 256 values, bsums per 16
      const auto* b = reinterpret_cast<const BlockQ8_K*>(s.bytes.data());
      const int per_block = static_cast<int>(kQK_K / G);
      for (int64_t i = 0; i < k / kQK_K; ++i)
        for (int j = 0; j < per_block; ++j) {
          const int32_t sum = G == 16 ? b[i].bsums[j] : b[i].bsums[2 * j] + b[i].bsums[2 * j + 1];
          put(i * per_block + j, b[i].qs + G * j, b[i].d, sum);
        }
    }
  }
}

template <TensorType kType>
uint64_t panel_bytes(int64_t k) {
  return find(kType)->format.panel_bytes(k);
}

template <TensorType kType>
uint64_t act_bytes(int64_t k) {
  return find(kType)->format.act_block_bytes(k);
}

template <TensorType kType>
void fill(GemmKernels& k) {
  k.panel_bytes = panel_bytes<kType>;
  k.act_bytes = act_bytes<kType>;
  k.pack_panel = pack_panel<kType>;
  k.pack_act = pack_act<kType>;
}

}  // namespace

const GemmFormat* gemm_format(TensorType t) {
  const TypeGemm* e = find(t);
  return e ? &e->format : nullptr;
}

bool gemm_packers(TensorType t, GemmKernels& k) {
  switch (t) {
    case TensorType::Q4_0: fill<TensorType::Q4_0>(k); return true;
    case TensorType::Q5_0: fill<TensorType::Q5_0>(k); return true;
    case TensorType::Q8_0: fill<TensorType::Q8_0>(k); return true;
    case TensorType::Q4_K: fill<TensorType::Q4_K>(k); return true;
    case TensorType::Q5_K: fill<TensorType::Q5_K>(k); return true;
    case TensorType::Q6_K: fill<TensorType::Q6_K>(k); return true;
    default: return false;
  }
}

}  // namespace strata::cpu::detail
