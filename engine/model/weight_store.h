// How the decoder reaches weights. The decoder never touches a file or a tier: it asks a
// WeightStore for a layer's tensors between begin_layer() and end_layer(). The in-RAM store
// below serves them straight from the mapped GGUF file; a tiered store (RAM / SSD / GPU) can
// load, prefetch and evict inside those calls without the decoder changing.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "engine/weights/q4g_codec.h"
#include "kernels/cpu/tensor_type.h"

namespace strata {

// How a tensor's rows are encoded: as `type` says, or compressed at load to q4g
// (engine/weights/q4g_codec.h; `type` then still names the file's type).
enum class TensorCodec : uint8_t { Native, Q4G };

// A weight matrix or vector as stored: rows of `cols()` elements (ggml dims[0]) of `type`.
struct TensorRef {
  std::string name;
  TensorType type = TensorType::F32;
  std::array<int64_t, 4> dims{1, 1, 1, 1};  // ggml order: dims[0] contiguous
  int n_dims = 0;
  const uint8_t* data = nullptr;  // valid between begin_layer and end_layer (always, for globals)
  uint64_t bytes = 0;
  TensorCodec codec = TensorCodec::Native;

  int64_t cols() const { return dims[0]; }
  int64_t rows() const { return dims[1] * dims[2] * dims[3]; }
  uint64_t row_bytes() const {
    return codec == TensorCodec::Q4G ? q4g_row_bytes(dims[0]) : strata::row_bytes(type, static_cast<uint64_t>(dims[0]));
  }
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes(); }
};

// What a store holds where, and what its SSD tier has cost so far (for status and benchmarks).
struct WeightStoreStats {
  uint64_t gpu_bytes = 0, ram_bytes = 0, ssd_bytes = 0;  // weights whose home is each tier
  uint64_t staging_bytes = 0;   // SSD staging buffers (part of the RAM use)
  uint64_t ram_budget = 0;      // 0: none
  uint64_t ram_peak_bytes = 0;  // most RAM the store's allocations ever took (≤ ram_budget)
  uint64_t ssd_bytes_read = 0, ssd_reads = 0;
  uint64_t steps = 0;           // forward steps (one token per sequence when decoding)
  double io_seconds = 0;        // I/O thread time spent reading
  double stall_seconds = 0;     // decoder time spent waiting for a layer's read
  int prefetch_depth = 0;       // layers read ahead of the one computed
  bool direct_io = true;        // false: buffered reads + POSIX_FADV_DONTNEED (no O_DIRECT here)
  bool mapped = false;          // served from the file's mapping (page cache), not our buffers

  double ssd_bytes_per_step() const { return steps ? double(ssd_bytes_read) / double(steps) : 0.0; }
  // Of the I/O time, the share that overlapped compute (1 when nothing was read).
  double hidden_io_share() const {
    return io_seconds > 0 ? std::max(0.0, 1.0 - stall_seconds / io_seconds) : 1.0;
  }
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
  virtual WeightStoreStats stats() const {
    WeightStoreStats s;
    s.ram_bytes = resident_bytes();
    return s;
  }
};

// Weights served from the memory-mapped GGUF file: everything is always resident (as far as
// the OS page cache allows), so the brackets do nothing.
class MappedWeightStore final : public WeightStore {
 public:
  explicit MappedWeightStore(uint64_t mapped_bytes) : mapped_bytes_(mapped_bytes) {}
  void begin_layer(int) override {}
  void end_layer(int) override {}
  uint64_t resident_bytes() const override { return mapped_bytes_; }
  WeightStoreStats stats() const override {
    WeightStoreStats s;
    s.ram_bytes = mapped_bytes_;
    s.mapped = true;
    return s;
  }

 private:
  uint64_t mapped_bytes_;
};

}  // namespace strata
