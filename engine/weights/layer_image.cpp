#include "engine/weights/layer_image.h"

#include <algorithm>
#include <numeric>

#include "engine/weights/direct_reader.h"

namespace strata {

namespace {
// Gaps up to this size between tensors are read rather than split into another request.
constexpr uint64_t kMergeGap = 256 * 1024;
}  // namespace

LayerImage LayerImage::layout(const std::vector<TensorRef*>& refs, const std::vector<uint64_t>& file_offsets) {
  LayerImage img;
  std::vector<size_t> order(refs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return file_offsets[a] < file_offsets[b]; });
  uint64_t last_end = 0;
  for (size_t i : order) {
    const uint64_t off = file_offsets[i], bytes = refs[i]->bytes;
    if (img.runs.empty() || off > img.runs.back().offset + img.runs.back().bytes + kMergeGap) {
      Run r;
      r.offset = off;
      r.bytes = bytes;
      r.buffer_offset = img.buffer_bytes;
      img.runs.push_back(r);
    } else {
      Run& r = img.runs.back();
      r.bytes = std::max(r.bytes, off + bytes - r.offset);
    }
    Run& r = img.runs.back();
    img.buffer_bytes = r.buffer_offset + DirectReader::aligned_bytes(r.offset, r.bytes);
    img.tensors.push_back({refs[i], r.buffer_offset + (off - DirectReader::aligned_start(r.offset))});
    if (off + bytes > last_end) img.data_bytes += off >= last_end ? bytes : off + bytes - last_end;
    last_end = std::max(last_end, off + bytes);
  }
  return img;
}

void LayerImage::read(const DirectReader& file, uint8_t* buffer) const {
  for (const Run& r : runs) file.read(r.offset, r.bytes, buffer + r.buffer_offset);
}

void LayerImage::point(uint8_t* buffer) const {
  for (const Placed& t : tensors) t.ref->data = buffer ? buffer + t.buffer_offset : nullptr;
}

}  // namespace strata
