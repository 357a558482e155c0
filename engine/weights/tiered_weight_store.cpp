#include "engine/weights/tiered_weight_store.h"

#include <sys/mman.h>

#include <chrono>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/model.h"
#include "engine/weights/q4g_pack.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<TensorRef*> layer_refs(LayerWeights& L) {
  std::vector<TensorRef*> refs;
  for (TensorRef* t : {&L.attn_norm, &L.attn_norm_b, &L.wq, &L.wk, &L.wv, &L.wo, &L.bq, &L.bk, &L.bv, &L.bo, &L.ffn_norm,
                       &L.ffn_norm_b, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
    if (t->data) refs.push_back(t);
  return refs;
}

LayerImage image_of(const gguf::GgufFile& file, const std::vector<TensorRef*>& refs) {
  std::vector<uint64_t> offsets;
  for (const TensorRef* t : refs) offsets.push_back(file.require_tensor(t->name).offset);
  return LayerImage::layout(refs, offsets);
}

// Gives the mapping's pages of a tensor back (they are private, clean, and now unused), so that
// a page touched before the store took over does not linger in RAM.
void release_mapping(const gguf::GgufFile& file, const TensorRef& t) {
  const gguf::TensorInfo& info = file.require_tensor(t.name);
  const uintptr_t page = 4096, begin = reinterpret_cast<uintptr_t>(info.data) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(info.data) + info.bytes) / page * page;  // whole pages only
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

TieredWeightStore::TieredWeightStore(const gguf::GgufFile& file, ModelWeights& weights, const TieredStoreSetup& setup)
    : placement_(setup.placement), ledger_("ram_budget (weights)", setup.ram_budget), reader_(file.path()) {
  const int n = static_cast<int>(weights.layers.size());
  const bool q4g = setup.format == WeightFormat::Q4G;
  if (static_cast<int>(placement_.layers.size()) != n)
    throw Error(ErrorKind::Internal, "placement covers " + std::to_string(placement_.layers.size()) + " layers, the model has " +
                                         std::to_string(n));
  // Native images (where each layer lies in the file) and, for q4g, packed ones.
  std::vector<LayerImage> native;
  uint64_t native_most = 0;
  ssd_index_.assign(n, -1);
  for (int l = 0; l < n; ++l) {
    const auto refs = layer_refs(weights.layers[l]);
    for (const TensorRef* t : refs) release_mapping(file, *t);
    native.push_back(image_of(file, refs));
    native_most = std::max(native_most, native.back().buffer_bytes);
    images_.push_back(q4g ? packed_layout(refs) : native.back());
    if (placement_.layers[l] == Tier::Gpu)
      throw Error(ErrorKind::Unsupported, "layer " + std::to_string(l) + " placed on the GPU tier, which this build lacks");
    if (placement_.layers[l] == Tier::Ssd) {
      ssd_index_[l] = static_cast<int>(ssd_order_.size());
      ssd_order_.push_back(l);
      ssd_layer_bytes_ += images_[l].data_bytes;
      slot_bytes_ = std::max(slot_bytes_, images_[l].buffer_bytes);
    }
  }

  // The globals: read once into a buffer of their own.
  std::vector<TensorRef*> globals{&weights.token_embd, &weights.output, &weights.output_norm, &weights.output_norm_b};
  std::erase_if(globals, [](TensorRef* t) { return !t->data; });
  for (const TensorRef* t : globals) release_mapping(file, *t);
  globals_image_ = image_of(file, globals);
  resident_.emplace_back(globals_image_.buffer_bytes, ledger_);
  globals_image_.read(reader_, resident_.back().data());
  globals_image_.point(resident_.back().data());

  if (!ssd_order_.empty()) {
    slots_.resize(std::max(1, placement_.staging_slots));
    for (Slot& s : slots_) s.buffer = AlignedBuffer(slot_bytes_, ledger_);
  }
  // q4g: each layer is read natively into a scratch buffer (charged while loading) and packed,
  // into its resident buffer (RAM tier) or into staging buffer 0 and then the spill file (SSD).
  AlignedBuffer scratch;
  if (q4g) scratch = AlignedBuffer(native_most, ledger_);
  if (q4g && !ssd_order_.empty()) spill_ = DirectReader::temporary(setup.spill_dir.empty() ? std::filesystem::temp_directory_path() : setup.spill_dir);
  uint64_t spill_at = 0;
  for (int l = 0; l < n; ++l) {
    const bool ram = placement_.layers[l] == Tier::Ram;
    uint8_t* home = nullptr;
    if (ram) {
      resident_.emplace_back(images_[l].buffer_bytes, ledger_);
      home = resident_.back().data();
      ram_layer_bytes_ += images_[l].data_bytes;
    }
    if (!q4g) {
      if (ram) {
        images_[l].read(reader_, home);
        images_[l].point(home);
      } else {
        images_[l].point(nullptr);
      }
      continue;
    }
    native[l].read(reader_, scratch.data());
    native[l].point(scratch.data());
    pack_layer(images_[l], ram ? home : slots_[0].buffer.data());
    if (ram) continue;
    spill_->write(spill_at, slots_[0].buffer.data(), images_[l].buffer_bytes);
    images_[l].runs = {{spill_at, images_[l].buffer_bytes, 0}};
    spill_at += images_[l].buffer_bytes;
    images_[l].point(nullptr);
  }
  if (!ssd_order_.empty()) io_ = std::make_unique<IoThread>();
  reader_.drop_cache();  // whatever earlier buffered access (writing the file, parsing) left
}

TieredWeightStore::~TieredWeightStore() {
  std::unique_lock lock(mu_);
  ++generation_;
  cv_.wait(lock, [&] { return in_flight_ == 0; });
  lock.unlock();
  io_.reset();
}

void TieredWeightStore::read_job(uint64_t seq, uint64_t generation) {
  Slot* slot;
  {
    std::lock_guard lock(mu_);
    slot = &slots_[seq % slots_.size()];
    if (generation != generation_) {  // orphaned by a reset: the slot is someone else's now
      --in_flight_;
      cv_.notify_all();
      return;
    }
  }
  const int layer = ssd_layer_of(seq);
  std::exception_ptr error;
  const auto t0 = Clock::now();
  try {
    images_[layer].read(ssd_reader(), slot->buffer.data());
  } catch (...) {
    error = std::current_exception();
  }
  const double took = seconds_since(t0);
  std::lock_guard lock(mu_);
  --in_flight_;
  counters_.io_seconds += took;
  if (!error) {
    counters_.ssd_bytes_read += images_[layer].buffer_bytes;
    counters_.ssd_reads += images_[layer].runs.size();
  }
  if (generation == generation_) {
    slot->state = error ? SlotState::Failed : SlotState::Ready;
    slot->error = error;
  }
  cv_.notify_all();
}

void TieredWeightStore::fill_locked() {
  const uint64_t n_slots = slots_.size();
  while (issue_seq_ < consume_seq_ + n_slots && slots_[issue_seq_ % n_slots].state == SlotState::Free) {
    Slot& s = slots_[issue_seq_ % n_slots];
    s.state = SlotState::Reading;
    s.seq = issue_seq_;
    s.error = nullptr;
    ++in_flight_;
    io_->submit([this, seq = issue_seq_, gen = generation_] { read_job(seq, gen); });
    ++issue_seq_;
  }
}

void TieredWeightStore::reset_locked(std::unique_lock<std::mutex>& lock, uint64_t next_seq) {
  ++generation_;
  cv_.wait(lock, [&] { return in_flight_ == 0; });
  for (Slot& s : slots_) {
    s.state = SlotState::Free;
    s.error = nullptr;
  }
  consume_seq_ = issue_seq_ = next_seq;
}

void TieredWeightStore::begin_layer(int layer) {
  if (layer < 0) {
    std::lock_guard lock(mu_);
    ++counters_.steps;
    if (!slots_.empty()) fill_locked();
    return;
  }
  const int j = ssd_index_.at(layer);
  if (j < 0) return;  // resident
  std::unique_lock lock(mu_);
  const uint64_t m = ssd_order_.size();
  if (consume_seq_ % m != uint64_t(j))  // out of the cyclic order (a step abandoned midway): start over here
    reset_locked(lock, (consume_seq_ / m + 1) * m + j);
  fill_locked();
  Slot& s = slots_[consume_seq_ % slots_.size()];
  const auto t0 = Clock::now();
  cv_.wait(lock, [&] { return s.seq == consume_seq_ && (s.state == SlotState::Ready || s.state == SlotState::Failed); });
  counters_.stall_seconds += seconds_since(t0);
  if (s.state == SlotState::Failed) {
    std::exception_ptr e = s.error;
    reset_locked(lock, consume_seq_);  // a later step retries the read from scratch
    std::rethrow_exception(e);
  }
  images_[layer].point(s.buffer.data());
}

void TieredWeightStore::end_layer(int layer) {
  if (layer < 0) return;
  const int j = ssd_index_.at(layer);
  if (j < 0) return;
  images_[layer].point(nullptr);  // a stray use after end_layer faults instead of reading stale data
  std::lock_guard lock(mu_);
  Slot& s = slots_[consume_seq_ % slots_.size()];
  if (s.seq != consume_seq_ || s.state != SlotState::Ready || ssd_layer_of(consume_seq_) != layer) return;  // not ours
  s.state = SlotState::Free;
  ++consume_seq_;
  fill_locked();
}

WeightStoreStats TieredWeightStore::stats() const {
  std::lock_guard lock(mu_);
  WeightStoreStats s = counters_;
  s.ram_bytes = ram_layer_bytes_ + globals_image_.data_bytes;
  s.ssd_bytes = ssd_layer_bytes_;
  s.staging_bytes = slots_.size() * slot_bytes_;
  s.ram_budget = ledger_.limit() == UINT64_MAX ? 0 : ledger_.limit();
  s.ram_peak_bytes = ledger_.peak();
  s.prefetch_depth = slots_.empty() ? 0 : static_cast<int>(slots_.size()) - 1;
  s.direct_io = ssd_reader().direct();
  return s;
}

}  // namespace strata
