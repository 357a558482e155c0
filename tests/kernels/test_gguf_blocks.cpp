// Blocks written by llama.cpp itself: the shared mini-llama2 files were quantized by
// llama-quantize from one F16 master into Q8_0, Q4_0 and Q4_K_M (models/README.md), so the same
// tensor decoded from each file must agree within the formats' errors. A wrong bit layout would
// leave no agreement at all. Q8_0 and Q4_0 blocks also survive dequantize -> our quantizer
// unchanged, which pins our quantizers to ggml's rounding rules on real data.
//
// The tiny GGUF reader below is test-only (header, key/values skipped, tensor infos).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "tests/kernels/kernel_test_util.h"
#include "tests/support/test_paths.h"

namespace strata::cpu {
namespace {

struct GgufTensor {
  TensorType type;
  std::vector<uint64_t> dims;
  const uint8_t* data;
  int64_t elements() const {
    int64_t n = 1;
    for (uint64_t d : dims) n *= static_cast<int64_t>(d);
    return n;
  }
};

class GgufFile {
 public:
  static std::optional<GgufFile> open(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    GgufFile f;
    f.bytes_.assign(std::istreambuf_iterator<char>(in), {});
    if (!f.parse()) return std::nullopt;
    return f;
  }

  const GgufTensor* tensor(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }

 private:
  template <typename T>
  T read() {
    T v{};
    if (pos_ + sizeof(T) > bytes_.size()) throw std::runtime_error("truncated");
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string() {
    const uint64_t n = read<uint64_t>();
    if (pos_ + n > bytes_.size()) throw std::runtime_error("truncated");
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  // Skips one value of GGUF type `type`; returns it when it is a uint32 (for general.alignment).
  std::optional<uint32_t> skip_value(uint32_t type) {
    static const size_t kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
      read_string();
    } else if (type == 9) {
      const uint32_t inner = read<uint32_t>();
      const uint64_t n = read<uint64_t>();
      for (uint64_t i = 0; i < n; ++i) skip_value(inner);
    } else if (type < 13) {
      if (type == 4) return read<uint32_t>();
      pos_ += kSizes[type];
    } else {
      throw std::runtime_error("bad value type");
    }
    return std::nullopt;
  }
  bool parse() try {
    if (read<uint32_t>() != 0x46554747u) return false;  // "GGUF"
    if (read<uint32_t>() < 2) return false;
    const uint64_t n_tensors = read<uint64_t>(), n_kv = read<uint64_t>();
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv; ++i) {
      const std::string key = read_string();
      const auto v = skip_value(read<uint32_t>());
      if (key == "general.alignment" && v) alignment = *v;
    }
    struct Info {
      std::string name;
      GgufTensor t;
      uint64_t offset;
    };
    std::vector<Info> infos;
    for (uint64_t i = 0; i < n_tensors; ++i) {
      Info info;
      info.name = read_string();
      const uint32_t nd = read<uint32_t>();
      for (uint32_t d = 0; d < nd; ++d) info.t.dims.push_back(read<uint64_t>());
      info.t.type = static_cast<TensorType>(read<uint32_t>());
      info.offset = read<uint64_t>();
      infos.push_back(info);
    }
    const uint64_t data_start = (pos_ + alignment - 1) / alignment * alignment;
    for (auto& info : infos) {
      info.t.data = bytes_.data() + data_start + info.offset;
      if (data_start + info.offset + row_bytes(info.t.type, info.t.elements()) > bytes_.size()) return false;
      tensors_[info.name] = info.t;
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }

  std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
  std::map<std::string, GgufTensor> tensors_;
};

class RealGguf : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const char* name : {"Q8_0", "Q4_0", "Q4_K_M"}) {
      auto f = GgufFile::open(test::shared_path(std::string("models/mini-llama2-") + name + ".gguf"));
      if (f) files_[name] = std::move(*f);
    }
  }
  static void TearDownTestSuite() { files_.clear(); }

  const GgufTensor* get(const std::string& file, const std::string& tensor) {
    auto it = files_.find(file);
    return it == files_.end() ? nullptr : it->second.tensor(tensor);
  }

  static std::vector<float> dequantize(const GgufTensor& t) {
    std::vector<float> v(t.elements());
    kernels_for(t.type).to_float(t.data, v.data(), t.elements());
    return v;
  }

  static inline std::map<std::string, GgufFile> files_;
};

#define REQUIRE_TENSOR(var, file, name, expected_type)                                     \
  const GgufTensor* var = get(file, name);                                                 \
  if (var == nullptr) GTEST_SKIP() << "shared model mini-llama2-" << file << " not found"; \
  ASSERT_EQ(var->type, expected_type) << name

// Decoded from another format, a tensor stays within that format's error of the Q8_0 decoding.
TEST_F(RealGguf, SameTensorAgreesAcrossFormats) {
  struct Case {
    const char* file;
    const char* tensor;
    TensorType type;
    double max_rel_rms;  // RMS(difference to the Q8_0 decoding) / RMS(tensor)
  };
  const Case cases[] = {
      {"Q4_0", "blk.0.attn_q.weight", TensorType::Q4_0, 0.15},
      {"Q4_0", "output.weight", TensorType::Q6_K, 0.04},
      {"Q4_K_M", "blk.0.attn_q.weight", TensorType::Q4_K, 0.12},
      {"Q4_K_M", "blk.1.ffn_down.weight", TensorType::Q4_K, 0.12},
      {"Q4_K_M", "blk.2.attn_v.weight", TensorType::Q6_K, 0.04},
      {"Q4_K_M", "blk.3.ffn_down.weight", TensorType::Q6_K, 0.04},
  };
  for (const auto& c : cases) {
    REQUIRE_TENSOR(ref, "Q8_0", c.tensor, TensorType::Q8_0);
    REQUIRE_TENSOR(t, c.file, c.tensor, c.type);
    ASSERT_EQ(ref->dims, t->dims);
    const auto a = dequantize(*ref), b = dequantize(*t);
    double se = 0, sx = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      se += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
      sx += static_cast<double>(a[i]) * a[i];
    }
    const double rel = std::sqrt(se / sx);
    std::printf("[ info ] %s %s (%s): relative RMS difference to Q8_0 %.4f\n", c.file, c.tensor,
                tensor_type_name(c.type).data(), rel);
    EXPECT_LT(rel, c.max_rel_rms) << c.file << " " << c.tensor;
  }
}

// llama-quantize wrote these blocks with ggml's reference quantizers; their decoded values fed
// back through ours give the very same bytes.
TEST_F(RealGguf, Q8_0AndQ4_0BlocksRequantizeIdentically) {
  const std::pair<const char*, TensorType> cases[] = {{"Q8_0", TensorType::Q8_0}, {"Q4_0", TensorType::Q4_0}};
  for (const auto& [file, type] : cases) {
    for (const char* name : {"blk.0.attn_q.weight", "blk.3.ffn_gate.weight", "token_embd.weight"}) {
      REQUIRE_TENSOR(t, file, name, type);
      const auto v = dequantize(*t);
      auto q = test::row_buffer(type, t->elements());
      reference_kernels(type).from_float(v.data(), q.data(), t->elements());
      const size_t bb = traits_of(type).block_bytes;
      size_t mismatched = 0;
      for (size_t b = 0; b < q.size() / bb; ++b)
        mismatched += std::memcmp(q.data() + b * bb, t->data + b * bb, bb) != 0;
      EXPECT_EQ(mismatched, 0u) << file << " " << name << ": blocks of " << q.size() / bb;
    }
  }
}

// A dot product with a real weight row at every level agrees with the reference.
TEST_F(RealGguf, DotProductsOnRealRowsAgreeAcrossLevels) {
  const std::pair<const char*, const char*> cases[] = {
      {"Q8_0", "blk.0.attn_q.weight"}, {"Q4_0", "blk.0.attn_q.weight"}, {"Q4_K_M", "blk.0.ffn_up.weight"},
      {"Q4_K_M", "output.weight"}};
  for (const auto& [file, name] : cases) {
    const GgufTensor* t = get(file, name);
    if (t == nullptr) GTEST_SKIP() << "shared model mini-llama2-" << file << " not found";
    const int64_t n = static_cast<int64_t>(t->dims[0]);
    const auto x = test::random_normal(static_cast<size_t>(n), 3);
    auto xq = test::row_buffer(vec_dot_type(t->type), n);
    reference_kernels(vec_dot_type(t->type)).from_float(x.data(), xq.data(), n);
    std::vector<float> xf(n), wf(n);
    reference_kernels(vec_dot_type(t->type)).to_float(xq.data(), xf.data(), n);
    const size_t rb = row_bytes(t->type, n);
    for (int64_t row = 0; row < 8; ++row) {
      const uint8_t* w = t->data + rb * row;
      reference_kernels(t->type).to_float(w, wf.data(), n);
      double sum_abs = 0;
      for (int64_t i = 0; i < n; ++i) sum_abs += std::fabs(static_cast<double>(wf[i]) * xf[i]);
      const float ref = reference_kernels(t->type).vec_dot(n, w, xq.data());
      for (const char* level : {"avx2", "avx512"}) {
        const TypeKernels* k = kernels_at_level(t->type, level);
        if (k == nullptr) continue;
        // n / block_elems float terms each side (see test_vec_dot.cpp): 2 * (blocks + 8) * 2^-24.
        const double tol = 2.0 * static_cast<double>(n / traits_of(t->type).block_elems + 8) * 0x1p-24 * sum_abs;
        EXPECT_NEAR(k->vec_dot(n, w, xq.data()), ref, tol) << file << " " << name << " " << level;
      }
    }
  }
}

}  // namespace
}  // namespace strata::cpu
