// Per-tensor-type CPU kernels: dequantize, quantize and dot product, with a scalar reference for
// every type and AVX2 / AVX-512 variants chosen at run time.
//
// A row of n elements of a quantized type is n / block_elems blocks (see tensor_type.h and
// quant_blocks.h for the layouts, docs/tensor-types.md for the formats). Every n passed here must
// be a multiple of the type's block size; that is asserted, not reported: these are kernels.
//
// Dot products follow llama.cpp: the activation row is first converted to vec_dot_type(weight
// type) (quantize_activation), then vec_dot(n, weight_row, activation_row) multiplies the two, so
// results match llama.cpp's up to float summation order.
#pragma once

#include <cstdint>
#include <string_view>

#include "kernels/cpu/tensor_type.h"

namespace strata::cpu {

// The format activations are converted to before a dot product with a weight row of
// `weight_type`: F32->F32, F16->F16, BF16->BF16, Q4_0/Q5_0/Q8_0->Q8_0, Q4_1/Q5_1->Q8_1,
// Q4_K/Q5_K/Q6_K->Q8_K. Asserts `weight_type` has kernels and is not activation-only.
TensorType vec_dot_type(TensorType weight_type);

struct TypeKernels {
  // Dequantize n elements (n a multiple of the block size).
  void (*to_float)(const void* src, float* dst, int64_t n);
  // Quantize n elements: the reference quantizer (valid GGUF blocks); for Q8_0/Q8_1/Q8_K also
  // the activation quantizer, following ggml's rounding rules.
  void (*from_float)(const float* src, void* dst, int64_t n);
  // sum_i w[i]*x[i]; w of this type, x of vec_dot_type(this type). nullptr for activation-only
  // types (Q8_1, Q8_K).
  float (*vec_dot)(int64_t n, const void* w, const void* x);
  // out[r] = vec_dot(n, w + r * stride, x) for r < rows: the decode matrix-vector product over a
  // run of rows, which shares the activation's loads and per-block work across several rows.
  // nullptr where a level has no such kernel: call vec_dot per row.
  void (*vec_dot_rows)(int64_t n, const void* w, uint64_t stride, const void* x, float* out, int64_t rows) = nullptr;
  // Four runs of `steps` rows each, read side by side: out[q][i] = vec_dot(n, w[q] + i * stride, x)
  // for q < 4, i < steps. vec_dot_rows reads a call's rows so, one run per quarter of the call;
  // with the runs given, decode keeps each run going from call to call (row_quarters.h).
  // nullptr where a level's kernel does not take its rows by quarters (a level that replaces a
  // lower level's vec_dot_rows replaces or clears its vec_dot_streams too).
  void (*vec_dot_streams)(int64_t n, const void* const w[4], uint64_t stride, const void* x, float* const out[4],
                          int64_t steps) = nullptr;
};

// The scalar C++ reference: readable, the yardstick for everything else. A type without kernels
// (tensor_type.h: has_kernels == false) gets a table of nullptrs.
const TypeKernels& reference_kernels(TensorType type);

// The fastest variant this CPU supports, chosen once at first use. Entries without a fast
// variant are the reference's.
const TypeKernels& kernels_for(TensorType type);

// The table of one level ("reference", "avx2", "avx512"), or nullptr when this CPU (as limited
// by STRATA_CPU) lacks it or the name is unknown. For tests and benchmarks.
const TypeKernels* kernels_at_level(TensorType type, std::string_view level);

struct CpuFeatures {
  bool avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni, avx512bf16, avxvnni;
};

// Detected once via cpuid + xgetbv (a feature counts only when the OS saves its registers).
// The environment variable STRATA_CPU=reference|avx2|avx512 caps the level: features above it
// read false, so neither kernels_for() nor kernels_at_level() uses them.
const CpuFeatures& cpu_features();

// The level kernels_for() uses: "reference", "avx2" or "avx512".
std::string_view kernel_level_name();

// The decode kernels' software prefetch distances in use, chosen from the CPU's vendor: "intel"
// or "amd" (kernels/cpu/row_prefetch.h).
std::string_view prefetch_profile_name();
// How far ahead, in bytes, the decode kernels that read their rows as four streams ask for lines
// into L1 on this CPU (the profile's quarters distance; the bandwidth probe reads the same way).
uint64_t quarter_prefetch_bytes();

// Quantize an activation row of n floats to vec_dot_type(weight_type) into `dst`
// (row_bytes(vec_dot_type(weight_type), n) bytes), with the fastest variant.
void quantize_activation(TensorType weight_type, const float* x, void* dst, int64_t n);

}  // namespace strata::cpu
