// CPU feature detection and the choice of kernel level. See kernels.h.
#include "kernels/cpu/kernels.h"

#include <cassert>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/row_prefetch.h"

#if defined(STRATA_KERNELS_X86)
#include <cpuid.h>
#endif

namespace strata::cpu {
namespace {

using detail::KernelTable;

enum class Level { Reference = 0, Avx2 = 1, Avx512 = 2 };

constexpr std::string_view kLevelNames[] = {"reference", "avx2", "avx512"};

// What the hardware and OS offer. avx512dq is not part of CpuFeatures, but the AVX-512 files are
// compiled with -mavx512dq (the compiler may use its instructions), so the level requires it.
struct Detected {
  CpuFeatures f{};
  bool avx512dq = false;
};

Detected detect_hardware() {
  Detected det;
  [[maybe_unused]] CpuFeatures& f = det.f;
#if defined(STRATA_KERNELS_X86)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return det;
  const bool osxsave = (c >> 27) & 1;
  const bool avx = (c >> 28) & 1;
  const bool fma = (c >> 12) & 1;
  const bool f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return det;
  // XCR0 says which register states the OS saves on a context switch: bits 1-2 SSE/AVX (ymm),
  // bits 5-7 the AVX-512 opmask and upper zmm registers.
  uint32_t xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool os_ymm = (xcr0_lo & 0x6) == 0x6;
  const bool os_zmm = os_ymm && (xcr0_lo & 0xE0) == 0xE0;
  if (!os_ymm) return det;

  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  unsigned b7 = 0, c7 = 0, a7_1 = 0;
  if (max_leaf >= 7) {
    unsigned max_subleaf = 0;
    __cpuid_count(7, 0, max_subleaf, b7, c7, d);
    if (max_subleaf >= 1) {
      unsigned b1 = 0, c1 = 0, d1 = 0;
      __cpuid_count(7, 1, a7_1, b1, c1, d1);
    }
  }
  f.fma = fma;
  f.f16c = f16c;
  f.avx2 = (b7 >> 5) & 1;
  f.avxvnni = (a7_1 >> 4) & 1;
  if (os_zmm) {
    f.avx512f = (b7 >> 16) & 1;
    f.avx512bw = (b7 >> 30) & 1;
    f.avx512vl = (b7 >> 31) & 1;
    f.avx512vnni = (c7 >> 11) & 1;
    f.avx512bf16 = (a7_1 >> 5) & 1;
    det.avx512dq = (b7 >> 17) & 1;
  }
#endif
  return det;
}

// AMD (and Hygon, its licensee) by the vendor string of cpuid leaf 0.
bool amd_cpu() {
#if defined(STRATA_KERNELS_X86)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  return std::strcmp(vendor, "AuthenticAMD") == 0 || std::strcmp(vendor, "HygonGenuine") == 0;
#else
  return false;
#endif
}

const Detected& hardware() {
  static const Detected d = detect_hardware();
  return d;
}

bool supports(const CpuFeatures& f, Level level) {
  switch (level) {
    case Level::Reference:
      return true;
    case Level::Avx2:
      return f.avx2 && f.fma && f.f16c;
    case Level::Avx512:
      return supports(f, Level::Avx2) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni &&
             hardware().avx512dq;
  }
  return false;
}

// STRATA_CPU caps the level: features of higher levels are cleared.
CpuFeatures apply_env_cap(CpuFeatures f) {
  const char* env = std::getenv("STRATA_CPU");
  if (env == nullptr || *env == '\0') return f;
  const std::string_view cap(env);
  if (cap == "avx512") return f;
  if (cap != "avx2" && cap != "reference") return f;  // unknown value: no cap
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512vnni = f.avx512bf16 = false;
  if (cap == "reference") f.avx2 = f.fma = f.f16c = f.avxvnni = false;
  return f;
}

struct Tables {
  KernelTable levels[3]{};
  bool available[3]{};
  Level best = Level::Reference;
};

Tables build_tables() {
  Tables t;
  const CpuFeatures& f = cpu_features();
  detail::add_reference_float(t.levels[0]);
  detail::add_reference_q4_q5_q8(t.levels[0]);
  detail::add_reference_kquants(t.levels[0]);
  t.available[0] = true;
#if defined(STRATA_KERNELS_X86)
  if (supports(f, Level::Avx2)) {
    t.levels[1] = t.levels[0];
    detail::add_avx2_float(t.levels[1]);
    detail::add_avx2_q4_q5_q8(t.levels[1]);
    detail::add_avx2_kquants(t.levels[1]);
    detail::add_avx2_rows_q4_q8(t.levels[1]);
    detail::add_avx2_rows_float(t.levels[1]);
    t.available[1] = true;
    t.best = Level::Avx2;
  }
  if (supports(f, Level::Avx512)) {
    t.levels[2] = t.levels[1];
    detail::add_avx512_float(t.levels[2], f.avx512bf16);
    detail::add_avx512_q4_q5_q8(t.levels[2]);
    detail::add_avx512_kquants(t.levels[2]);
    detail::add_avx512_rows_q4_0(t.levels[2]);
    detail::add_avx512_rows_q8_0(t.levels[2]);
    detail::add_avx512_rows_float(t.levels[2], f.avx512bf16);
    t.available[2] = true;
    t.best = Level::Avx512;
  }
#else
  (void)f;
#endif
  return t;
}

const Tables& tables() {
  static const Tables t = build_tables();
  return t;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = apply_env_cap(hardware().f);
  return f;
}

namespace detail {

// The figures behind each profile are in row_prefetch.h.
const PrefetchProfile& prefetch_profile() {
  static const PrefetchProfile intel{"intel", {8192, 16384}, {4096, 8192}};
  static const PrefetchProfile amd{"amd", {8192, 0}, {2048, 0}};
  static const PrefetchProfile& chosen = amd_cpu() ? amd : intel;
  return chosen;
}

}  // namespace detail

std::string_view prefetch_profile_name() { return detail::prefetch_profile().name; }

uint64_t quarter_prefetch_bytes() { return detail::prefetch_profile().quarters.near; }

std::string_view kernel_level_name() { return kLevelNames[static_cast<int>(tables().best)]; }

const TypeKernels& reference_kernels(TensorType type) {
  assert(static_cast<uint32_t>(type) < detail::kTypeSlots);
  return tables().levels[0][static_cast<uint32_t>(type)];
}

const TypeKernels& kernels_for(TensorType type) {
  assert(static_cast<uint32_t>(type) < detail::kTypeSlots);
  const Tables& t = tables();
  return t.levels[static_cast<int>(t.best)][static_cast<uint32_t>(type)];
}

const TypeKernels* kernels_at_level(TensorType type, std::string_view level) {
  if (static_cast<uint32_t>(type) >= detail::kTypeSlots) return nullptr;
  const Tables& t = tables();
  for (int i = 0; i < 3; ++i)
    if (level == kLevelNames[i]) return t.available[i] ? &t.levels[i][static_cast<uint32_t>(type)] : nullptr;
  return nullptr;
}

TensorType vec_dot_type(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
      return weight_type;
    case TensorType::Q4_0:
    case TensorType::Q5_0:
    case TensorType::Q8_0:
      return TensorType::Q8_0;
    case TensorType::Q4_1:
    case TensorType::Q5_1:
      return TensorType::Q8_1;
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      return TensorType::Q8_K;
    default:
      assert(false && "vec_dot_type: no dot product for this weight type");
      return weight_type;
  }
}

void quantize_activation(TensorType weight_type, const float* x, void* dst, int64_t n) {
  const TensorType act = vec_dot_type(weight_type);
  if (act == TensorType::F32) {
    std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  kernels_for(act).from_float(x, dst, n);
}

}  // namespace strata::cpu
