#include "engine/kv/kv_format.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/core/error.h"
#include "kernels/cpu/attention/attention_tile.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/kernels.h"

namespace strata {
namespace {

// q4g group layout: f16 min, f16 scale, then group/2 bytes of nibbles (element 2i in the low
// nibble of byte i, element 2i+1 in the high nibble). value = min + scale * q, q in 0..15.
void q4g_encode(const float* x, uint8_t* dst, int n, int group) {
  for (int g0 = 0; g0 < n; g0 += group) {
    float lo = x[g0], hi = x[g0];
    for (int i = 1; i < group; ++i) {
      lo = std::min(lo, x[g0 + i]);
      hi = std::max(hi, x[g0 + i]);
    }
    const uint16_t lo16 = cpu::fp32_to_fp16(lo);
    const float lo_r = cpu::fp16_to_fp32(lo16);  // quantize against the stored minimum
    const uint16_t scale16 = cpu::fp32_to_fp16((hi - lo_r) / 15.0f);
    const float scale = cpu::fp16_to_fp32(scale16);
    const float inv = scale > 0 ? 1.0f / scale : 0.0f;
    std::memcpy(dst, &lo16, 2);
    std::memcpy(dst + 2, &scale16, 2);
    uint8_t* q = dst + 4;
    for (int i = 0; i < group; i += 2) {
      const int a = std::clamp(static_cast<int>(std::lround((x[g0 + i] - lo_r) * inv)), 0, 15);
      const int b = std::clamp(static_cast<int>(std::lround((x[g0 + i + 1] - lo_r) * inv)), 0, 15);
      q[i / 2] = static_cast<uint8_t>(a | (b << 4));
    }
    dst += 4 + group / 2;
  }
}

}  // namespace

KvFormat KvFormat::make(KvType type, int head_dim, int group) {
  KvFormat f;
  f.type = type;
  if (type == KvType::Q8_0 && head_dim % 32 != 0)
    throw Error(ErrorKind::InvalidArgument, "KV type q8_0 needs a head size that is a multiple of 32; this model's is " +
                                                std::to_string(head_dim));
  if (type == KvType::Q4G) {
    f.group = std::min(group, head_dim);
    if (f.group < 2 || f.group % 2 != 0 || head_dim % f.group != 0)
      throw Error(ErrorKind::InvalidArgument, "KV type q4g: group size " + std::to_string(f.group) +
                                                  " must be even and divide the head size " + std::to_string(head_dim));
  }
  return f;
}

uint64_t KvFormat::row_bytes(int head_dim) const {
  switch (type) {
    case KvType::F16: return uint64_t(head_dim) * 2;
    case KvType::Q8_0: return uint64_t(head_dim) / 32 * 34;
    case KvType::Q4G: return uint64_t(head_dim) / group * (4 + group / 2);
  }
  return 0;
}

double KvFormat::bytes_per_element() const {
  switch (type) {
    case KvType::F16: return 2.0;
    case KvType::Q8_0: return 34.0 / 32.0;
    case KvType::Q4G: return (4.0 + group / 2.0) / group;
  }
  return 0;
}

std::string_view kv_type_name(KvType type) {
  switch (type) {
    case KvType::F16: return "f16";
    case KvType::Q8_0: return "q8_0";
    case KvType::Q4G: return "q4g";
  }
  return "?";
}

std::optional<KvType> parse_kv_type(std::string_view name) {
  for (KvType t : {KvType::F16, KvType::Q8_0, KvType::Q4G})
    if (name == kv_type_name(t)) return t;
  return std::nullopt;
}

void kv_encode_row(const KvFormat& f, const float* src, void* dst, int n) {
  switch (f.type) {
    // The vector conversions round as fp32_to_fp16 does; one at a time it cost decode ~1% (the
    // daemon writes two rows per KV head, layer and token).
    case KvType::F16: cpu::kernels_for(TensorType::F16).from_float(src, dst, n); return;
    case KvType::Q8_0: cpu::kernels_for(TensorType::Q8_0).from_float(src, dst, n); return;
    case KvType::Q4G: q4g_encode(src, static_cast<uint8_t*>(dst), n, f.group); return;
  }
}

void kv_decode_row(const KvFormat& f, const void* src, float* dst, int n) {
  switch (f.type) {
    case KvType::F16: cpu::kernels_for(TensorType::F16).to_float(src, dst, n); return;
    case KvType::Q8_0: cpu::kernels_for(TensorType::Q8_0).to_float(src, dst, n); return;
    case KvType::Q4G:
      cpu::attention_tile_kernels().q4g_to_float(static_cast<const uint8_t*>(src), dst, n, f.group);
      return;
  }
}

}  // namespace strata
