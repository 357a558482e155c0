// Compressing a layer to q4g at load: which of its tensors are compressed (f16 / bf16 / f32
// matrices whose rows are a multiple of 64 elements; norms and biases stay f32), and how the
// layer is packed into one buffer, which is what the RAM tier holds or the SSD tier spills.
#pragma once

#include <vector>

#include "engine/weights/layer_image.h"

namespace strata {

bool q4g_compressible(const TensorRef& t);

// The packed layout of `refs`: each tensor at a 64-byte aligned offset, compressible ones at
// their q4g size. No file runs: the buffer is filled by pack_layer (or read from a spill file).
LayerImage packed_layout(const std::vector<TensorRef*>& refs);

// Fills `out` (packed.buffer_bytes) from the tensors' current data (their native bytes), then
// marks the compressed ones (codec Q4G, bytes) and points every tensor into `out`.
void pack_layer(const LayerImage& packed, uint8_t* out);

}  // namespace strata
