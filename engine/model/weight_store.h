// How the decoder reaches weights. The decoder never touches a file or a tier: it asks a
// WeightStore for a layer's tensors between begin_layer() and end_layer(). The in-RAM store
// below serves them straight from the mapped GGUF file; a tiered store (RAM / SSD / GPU) can
// load, prefetch and evict inside those calls without the decoder changing.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "kernels/cpu/tensor_type.h"

namespace strata {

// A weight matrix or vector as stored: rows of `cols()` elements (ggml dims[0]) of `type`.
struct TensorRef {
  std::string name;
  TensorType type = TensorType::F32;
  std::array<int64_t, 4> dims{1, 1, 1, 1};  // ggml order: dims[0] contiguous
  int n_dims = 0;
  const uint8_t* data = nullptr;  // valid between begin_layer and end_layer (always, for globals)
  uint64_t bytes = 0;

  int64_t cols() const { return dims[0]; }
  int64_t rows() const { return dims[1] * dims[2] * dims[3]; }
  uint64_t row_bytes() const { return strata::row_bytes(type, static_cast<uint64_t>(dims[0])); }
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes(); }
};

class WeightStore {
 public:
  virtual ~WeightStore() = default;
  // Brackets the use of layer `layer`'s tensors; -1 means the global tensors (embeddings,
  // output). A store may block in begin_layer until the data is resident and start
  // prefetching the next layer there.
  virtual void begin_layer(int layer) = 0;
  virtual void end_layer(int layer) = 0;
  // Bytes of weights this store keeps resident in RAM (for memory accounting).
  virtual uint64_t resident_bytes() const = 0;
};

// Weights served from the memory-mapped GGUF file: everything is always resident (as far as
// the OS page cache allows), so the brackets do nothing.
class MappedWeightStore final : public WeightStore {
 public:
  explicit MappedWeightStore(uint64_t mapped_bytes) : mapped_bytes_(mapped_bytes) {}
  void begin_layer(int) override {}
  void end_layer(int) override {}
  uint64_t resident_bytes() const override { return mapped_bytes_; }

 private:
  uint64_t mapped_bytes_;
};

}  // namespace strata
