// Element-wise and per-row operations of a transformer layer, scalar and readable (silu_mul also
// has an AVX2 variant, chosen at run time: ops_isa.h).
// Shapes are given in elements; every function works on one row (or one token) at a time so
// the caller decides how to parallelize.
#pragma once

#include <cstdint>

namespace strata::cpu {

// y = x / sqrt(mean(x^2) + eps) * w      x, y, w: [n]   (y may alias x)
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// y = (x - mean) / sqrt(var + eps) * w + b      (b may be null)
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps);

// Rotary position embedding for one token, applied in place to n_heads heads of head_dim.
// Only the first rope_dim dimensions of each head rotate. cos/sin: [rope_dim / 2], the angles
// of this token's position for each pair. neox = false pairs (x[2i], x[2i+1]); neox = true
// pairs (x[i], x[i + rope_dim/2]).
void rope(float* x, int n_heads, int head_dim, int rope_dim, const float* cos, const float* sin, bool neox);

// gate[i] = silu(gate[i]) * up[i]        silu(v) = v / (1 + e^-v)
void silu_mul(float* gate, const float* up, int64_t n);
// gate[i] = gelu(gate[i]) * up[i]        (tanh approximation)
void gelu_mul(float* gate, const float* up, int64_t n);

// y[i] += x[i]
void add(float* y, const float* x, int64_t n);

// In-place softmax over x[0..n); returns the sum of exponentials before normalization.
double softmax(float* x, int64_t n);

}  // namespace strata::cpu
