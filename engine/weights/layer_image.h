// Where one layer's (or the globals') tensors lie in the model file, and where each lands in a
// buffer that a single pass of aligned reads fills. Tensors close together in the file are
// merged into one run, so a typical layer (its tensors contiguous) is one large read.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model/weight_store.h"

namespace strata {

class DirectReader;

struct LayerImage {
  struct Run {
    uint64_t offset = 0, bytes = 0;  // the wanted file range
    uint64_t buffer_offset = 0;      // where its aligned enclosing range starts in the buffer
  };
  struct Placed {
    TensorRef* ref = nullptr;
    uint64_t buffer_offset = 0;  // where the tensor's data lands in the buffer
  };
  std::vector<Run> runs;
  std::vector<Placed> tensors;
  uint64_t buffer_bytes = 0;  // page multiple
  uint64_t data_bytes = 0;    // sum of the tensors' bytes (each counted once)

  // `file_offsets[i]` is the absolute file offset of `refs[i]`'s data. Refs may repeat a
  // range (tied embeddings).
  static LayerImage layout(const std::vector<TensorRef*>& refs, const std::vector<uint64_t>& file_offsets);

  // Fills `buffer` (page-aligned, buffer_bytes long) from the file.
  void read(const DirectReader& file, uint8_t* buffer) const;
  // Points every tensor at its data in `buffer` (nullptr: unset them, so stray use faults).
  void point(uint8_t* buffer) const;
};

}  // namespace strata
