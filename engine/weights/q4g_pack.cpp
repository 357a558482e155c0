#include "engine/weights/q4g_pack.h"

#include <cstring>

#include "engine/weights/direct_reader.h"
#include "kernels/cpu/kernels.h"

namespace strata {

bool q4g_compressible(const TensorRef& t) {
  const bool float_type = t.type == TensorType::F16 || t.type == TensorType::BF16 || t.type == TensorType::F32;
  return t.codec == TensorCodec::Native && float_type && t.n_dims >= 2 && t.cols() % kQ4gGroup == 0;
}

LayerImage packed_layout(const std::vector<TensorRef*>& refs) {
  LayerImage img;
  uint64_t at = 0;
  for (TensorRef* t : refs) {
    const uint64_t bytes = q4g_compressible(*t) ? uint64_t(t->rows()) * q4g_row_bytes(t->cols()) : t->bytes;
    img.tensors.push_back({t, at});
    img.data_bytes += bytes;
    at = (at + bytes + 63) / 64 * 64;
  }
  img.buffer_bytes = (at + DirectReader::kAlign - 1) / DirectReader::kAlign * DirectReader::kAlign;
  return img;
}

void pack_layer(const LayerImage& packed, uint8_t* out) {
  std::vector<float> row;
  for (const LayerImage::Placed& p : packed.tensors) {
    TensorRef& t = *p.ref;
    uint8_t* dst = out + p.buffer_offset;
    if (!q4g_compressible(t)) {
      std::memmove(dst, t.data, t.bytes);
      continue;
    }
    const auto to_float = cpu::kernels_for(t.type).to_float;
    row.resize(t.cols());
    const uint64_t q_row = q4g_row_bytes(t.cols());
    for (int64_t r = 0; r < t.rows(); ++r) {
      to_float(t.row(r), row.data(), t.cols());
      q4g_encode_row(row.data(), dst + r * q_row, t.cols());
    }
    t.codec = TensorCodec::Q4G;
    t.bytes = uint64_t(t.rows()) * q_row;
  }
  packed.point(out);
}

}  // namespace strata
