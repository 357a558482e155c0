// Block layouts of the quantized tensor types, byte for byte as in GGUF files (ggml's blocks).
//
// All multi-byte fields are little-endian; `uint16_t d` fields hold IEEE half floats (fp16.h).
// A block of a "_0" type decodes as x = d * q, a "_1" type as x = d * q + m. The K-quants group
// 256 elements in a super-block of sub-blocks, each with its own small integer scale (and min)
// that is itself scaled by the super-block's d (and dmin). docs/tensor-types.md has the details.
#pragma once

#include <cstdint>

namespace strata::cpu {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
inline constexpr int kQK_K = 256;  // super-block size of every K-quant

// x[j] = d * (q[j] - 8), q 4-bit. qs[j] holds element j in its low nibble and element j + 16 in
// its high nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};

// x[j] = d * q[j] + m, q 4-bit; nibbles as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK4_1 / 2];
};

// x[j] = d * (q[j] - 16), q 5-bit: low 4 bits in nibbles as Q4_0, bit 4 of element j is bit j of
// the little-endian uint32 qh.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};

// x[j] = d * q[j] + m, q 5-bit laid out as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};

// x[j] = d * qs[j].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};

// Activation format for Q4_1 / Q5_1: x[j] = d * qs[j]; s = d * sum(qs) (both fp16).
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK8_1];
};

// 8 sub-blocks of 32: x = d * sc[j] * q - dmin * m[j], q 4-bit, sc/m 6-bit packed in `scales`
// (unpack_q4k_scales). qs[32c + l] holds element 64c + l (low nibble) and 64c + 32 + l (high).
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};

// As Q4_K with 5-bit q: the low 4 bits in qs as Q4_K; bit 4 of element 64c + l is bit 2c of
// qh[l], of element 64c + 32 + l bit 2c + 1 of qh[l].
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// 16 sub-blocks of 16: x = d * scales[k] * (q - 32), q 6-bit, scales int8 (sub-block k is
// elements 16k..16k+15). In each half h (elements 128h + 0..127, ql + 64h, qh + 32h), for
// l in 0..31: element l: low nibble of ql[l], bits 0-1 of qh[l]; element 32 + l: low nibble of
// ql[32 + l], bits 2-3; element 64 + l: high nibble of ql[l], bits 4-5; element 96 + l: high
// nibble of ql[32 + l], bits 6-7.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// Activation format for the K-quants: x[j] = d * qs[j] (d a float); bsums[k] = sum of
// qs[16k..16k+15].
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// The 12 `scales` bytes of Q4_K / Q5_K hold 8 six-bit scales sc[0..7] and 8 six-bit mins
// m[0..7]:
//   bytes 0-3:  sc[k] in bits 0-5, bits 4-5 of sc[k+4] in bits 6-7      (k = 0..3)
//   bytes 4-7:  m[k]  in bits 0-5, bits 4-5 of m[k+4]  in bits 6-7
//   bytes 8-11: low 4 bits of sc[k+4] in bits 0-3, low 4 bits of m[k+4] in bits 4-7
// (static inline: see fp16.h on why headers used by ISA-specific files avoid plain inline.)
static inline void unpack_q4k_scales(const uint8_t scales[12], uint8_t sc[8], uint8_t m[8]) {
  for (int k = 0; k < 4; ++k) {
    sc[k] = scales[k] & 63;
    m[k] = scales[4 + k] & 63;
    sc[k + 4] = static_cast<uint8_t>((scales[8 + k] & 0x0F) | ((scales[k] >> 6) << 4));
    m[k + 4] = static_cast<uint8_t>((scales[8 + k] >> 4) | ((scales[4 + k] >> 6) << 4));
  }
}

// Inverse of unpack_q4k_scales; every sc[k], m[k] must be < 64.
static inline void pack_q4k_scales(const uint8_t sc[8], const uint8_t m[8], uint8_t scales[12]) {
  for (int k = 0; k < 4; ++k) {
    scales[k] = static_cast<uint8_t>(sc[k] | ((sc[k + 4] >> 4) << 6));
    scales[4 + k] = static_cast<uint8_t>(m[k] | ((m[k + 4] >> 4) << 6));
    scales[8 + k] = static_cast<uint8_t>((sc[k + 4] & 0x0F) | ((m[k + 4] & 0x0F) << 4));
  }
}

}  // namespace strata::cpu
