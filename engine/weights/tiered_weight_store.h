// The tiered weight store: each layer's home is RAM or SSD (GPU to come). RAM-tier layers and
// the globals are read once, at load, into buffers the store owns; SSD-tier layers are read for
// every use, with O_DIRECT, into a ring of staging buffers, by an I/O thread that keeps reading
// ahead while the decoder computes. Every buffer is charged to a RAM ledger whose limit is the
// ram_budget, so the budget holds by construction.
//
// The decoder's brackets drive it: begin_layer(l) waits until layer l is in a staging buffer
// and points its TensorRefs there; end_layer(l) unsets them, frees the buffer and queues the
// next read. Reads follow the layer order cyclically, so while the last layers and the output
// matrix compute, the first SSD layers of the next token are already being read.
//
// The model file's mapping is never touched for SSD-tier (or RAM-tier) tensors: their
// TensorRefs point into our buffers or are null, and the mapping's pages for them are
// released with MADV_DONTNEED at load. One decoder uses a store at a time (a model has one
// scheduler thread).
#pragma once

#include <condition_variable>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/model/weight_store.h"
#include "engine/weights/aligned_buffer.h"
#include "engine/weights/direct_reader.h"
#include "engine/weights/io_thread.h"
#include "engine/weights/layer_image.h"
#include "engine/weights/memory_ledger.h"
#include "engine/weights/placement.h"
#include "engine/weights/weight_options.h"

namespace strata {

namespace gguf {
class GgufFile;
}
struct ModelWeights;

struct TieredStoreSetup {
  Placement placement;
  uint64_t ram_budget = UINT64_MAX;
  WeightFormat format = WeightFormat::Native;
  // q4g only: where compressed SSD-tier layers are spilled (an unnamed temporary file); must be
  // on the SSD, not a tmpfs. Empty: the system's temporary directory.
  std::filesystem::path spill_dir;
};

class TieredWeightStore final : public WeightStore {
 public:
  // Takes over `weights`, whose data pointers point into `file`'s mapping. Throws
  // Error(OutOfMemory) when the placement does not fit the ram_budget, ModelFileError when the
  // file cannot be read.
  TieredWeightStore(const gguf::GgufFile& file, ModelWeights& weights, const TieredStoreSetup& setup);
  ~TieredWeightStore() override;

  void begin_layer(int layer) override;
  void end_layer(int layer) override;
  uint64_t resident_bytes() const override { return ledger_.used(); }
  WeightStoreStats stats() const override;

  const Placement& placement() const { return placement_; }
  const MemoryLedger& ledger() const { return ledger_; }

 private:
  enum class SlotState { Free, Reading, Ready, Failed };
  struct Slot {
    AlignedBuffer buffer;
    SlotState state = SlotState::Free;
    uint64_t seq = 0;  // read occurrence it holds or is reading
    std::exception_ptr error;
  };

  void fill_locked();                   // queue reads into free slots
  void reset_locked(std::unique_lock<std::mutex>& lock, uint64_t next_seq);  // drop every read
  void read_job(uint64_t seq, uint64_t generation);
  int ssd_layer_of(uint64_t seq) const { return ssd_order_[seq % ssd_order_.size()]; }

  const DirectReader& ssd_reader() const { return spill_ ? *spill_ : reader_; }

  Placement placement_;
  MemoryLedger ledger_;
  DirectReader reader_;
  std::unique_ptr<DirectReader> spill_;  // q4g: compressed SSD-tier layers
  std::vector<LayerImage> images_;  // per layer
  LayerImage globals_image_;
  std::vector<AlignedBuffer> resident_;  // RAM-tier layers and the globals
  std::vector<int> ssd_order_;           // SSD-tier layers, in compute order
  std::vector<int> ssd_index_;           // per layer: position in ssd_order_, or -1
  uint64_t ram_layer_bytes_ = 0, ssd_layer_bytes_ = 0, slot_bytes_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;
  uint64_t consume_seq_ = 0;  // the read occurrence the decoder uses next
  uint64_t issue_seq_ = 0;    // the next read occurrence to queue
  uint64_t generation_ = 0;   // bumped to orphan queued reads
  int in_flight_ = 0;         // queued or running read jobs
  WeightStoreStats counters_;  // ssd_bytes_read, ssd_reads, steps, io_seconds, stall_seconds

  std::unique_ptr<IoThread> io_;  // last: its thread stops before anything it uses goes
};

}  // namespace strata
