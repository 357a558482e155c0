// GEMM dispatch: per weight type and level, the shared packers plus that level's tile kernel:
// the integer GEMM of the block types, or the float GEMM of F16 and BF16 (gemm_float_layout.h).
// Levels follow kernels_for(): a level exists when kernels_at_level() says so.
#include "kernels/cpu/gemm.h"

#include "kernels/cpu/gemm/gemm_internal.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/kernels.h"

namespace strata::cpu {
namespace {

constexpr std::string_view kLevels[] = {"reference", "avx2", "avx512"};

struct GemmTables {
  GemmKernels k[3][detail::kTypeSlots]{};
  bool has[3][detail::kTypeSlots]{};
};

detail::GemmTileFn tile_at(int level, const detail::GemmFormat& f) {
  switch (level) {
    case 0:
      return detail::gemm_tile_reference(f);
#if defined(STRATA_KERNELS_X86)
    case 1:
      return detail::gemm_tile_avx2(f);
    case 2:
      return detail::gemm_tile_avx512(f);
#endif
    default:
      return nullptr;
  }
}

GemmTables build() {
  GemmTables t;
  for (uint32_t id = 0; id < detail::kTypeSlots; ++id) {
    const auto type = static_cast<TensorType>(id);
    for (int level = 0; level < 3; ++level) {
      if (kernels_at_level(type, kLevels[level]) == nullptr) continue;
      GemmKernels k{};
      if (detail::gemm_packers(type, k)) {
        k.tile = tile_at(level, *detail::gemm_format(type));
#if defined(STRATA_KERNELS_X86)
        if (level == 2) k.tile_pair = detail::gemm_tile_pair_avx512(*detail::gemm_format(type));
#endif
      }
      else if (!detail::gemm_float_kernels(type, level, k))
        continue;
      if (k.tile == nullptr) continue;
      t.k[level][id] = k;
      t.has[level][id] = true;
    }
  }
  return t;
}

const GemmTables& tables() {
  static const GemmTables t = build();
  return t;
}

}  // namespace

const GemmKernels* gemm_kernels_at_level(TensorType weight_type, std::string_view level) {
  const auto id = static_cast<uint32_t>(weight_type);
  if (id >= detail::kTypeSlots) return nullptr;
  for (int i = 0; i < 3; ++i)
    if (level == kLevels[i]) return tables().has[i][id] ? &tables().k[i][id] : nullptr;
  return nullptr;
}

const GemmKernels* gemm_kernels_for(TensorType weight_type) {
  return gemm_kernels_at_level(weight_type, kernel_level_name());
}

}  // namespace strata::cpu
