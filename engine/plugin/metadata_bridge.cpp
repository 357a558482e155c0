#include "engine/plugin/metadata_bridge.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/core/error.h"
#include "kernels/cpu/tensor_type.h"

namespace strata {
namespace {

using gguf::Value;
using gguf::ValueType;

const gguf::GgufFile& file_of(void* ctx) { return *static_cast<const gguf::GgufFile*>(ctx); }

bool is_float(ValueType t) { return t == ValueType::F32 || t == ValueType::F64; }

// Every accessor below catches exceptions: nothing may unwind through the C boundary.
template <typename F>
int guarded(F&& f) {
  try {
    return f();
  } catch (const std::exception&) {
    return STRATA_PLUGIN_EINVAL;
  }
}

int type_of(void* ctx, const char* key, int* elem_type, uint64_t* count) {
  const Value* v = file_of(ctx).find(key);
  if (!v) return -1;
  if (v->is_array()) {
    if (elem_type) *elem_type = static_cast<int>(v->array_type());
    if (count) *count = v->size();
  }
  return static_cast<int>(v->type());
}

int get_i64(void* ctx, const char* key, int64_t* out) {
  return guarded([&] {
    const Value* v = file_of(ctx).find(key);
    if (!v) return int(STRATA_PLUGIN_ENOTFOUND);
    if (v->type() == ValueType::BOOL) { *out = v->as_bool() ? 1 : 0; return int(STRATA_PLUGIN_OK); }
    if (!gguf::is_integer_type(v->type())) return int(STRATA_PLUGIN_EINVAL);
    *out = v->as_i64();
    return int(STRATA_PLUGIN_OK);
  });
}

int get_f64(void* ctx, const char* key, double* out) {
  return guarded([&] {
    const Value* v = file_of(ctx).find(key);
    if (!v) return int(STRATA_PLUGIN_ENOTFOUND);
    if (!gguf::is_integer_type(v->type()) && !is_float(v->type())) return int(STRATA_PLUGIN_EINVAL);
    *out = v->as_f64();
    return int(STRATA_PLUGIN_OK);
  });
}

int get_bool(void* ctx, const char* key, int* out) {
  return guarded([&] {
    const Value* v = file_of(ctx).find(key);
    if (!v) return int(STRATA_PLUGIN_ENOTFOUND);
    if (v->type() == ValueType::BOOL) { *out = v->as_bool() ? 1 : 0; return int(STRATA_PLUGIN_OK); }
    if (!gguf::is_integer_type(v->type())) return int(STRATA_PLUGIN_EINVAL);
    *out = v->as_i64() != 0;
    return int(STRATA_PLUGIN_OK);
  });
}

int get_string(void* ctx, const char* key, const char** str, size_t* len) {
  return guarded([&] {
    const Value* v = file_of(ctx).find(key);
    if (!v) return int(STRATA_PLUGIN_ENOTFOUND);
    if (v->type() != ValueType::STRING) return int(STRATA_PLUGIN_EINVAL);
    std::string_view s = v->as_string();
    *str = s.data();
    *len = s.size();
    return int(STRATA_PLUGIN_OK);
  });
}

const Value* array_of(void* ctx, const char* key, uint64_t index, int* rc) {
  const Value* v = file_of(ctx).find(key);
  if (!v) { *rc = STRATA_PLUGIN_ENOTFOUND; return nullptr; }
  if (!v->is_array() || index >= v->size()) { *rc = STRATA_PLUGIN_EINVAL; return nullptr; }
  return v;
}

int get_array_string(void* ctx, const char* key, uint64_t index, const char** str, size_t* len) {
  return guarded([&] {
    int rc = 0;
    const Value* v = array_of(ctx, key, index, &rc);
    if (!v) return rc;
    if (v->array_type() != ValueType::STRING) return int(STRATA_PLUGIN_EINVAL);
    std::string_view s = v->string_at(index);
    *str = s.data();
    *len = s.size();
    return int(STRATA_PLUGIN_OK);
  });
}

int get_array_i64(void* ctx, const char* key, uint64_t index, int64_t* out) {
  return guarded([&] {
    int rc = 0;
    const Value* v = array_of(ctx, key, index, &rc);
    if (!v) return rc;
    if (!gguf::is_integer_type(v->array_type()) && v->array_type() != ValueType::BOOL) return int(STRATA_PLUGIN_EINVAL);
    *out = v->i64_at(index);
    return int(STRATA_PLUGIN_OK);
  });
}

int get_array_f64(void* ctx, const char* key, uint64_t index, double* out) {
  return guarded([&] {
    int rc = 0;
    const Value* v = array_of(ctx, key, index, &rc);
    if (!v) return rc;
    if (!gguf::is_integer_type(v->array_type()) && !is_float(v->array_type())) return int(STRATA_PLUGIN_EINVAL);
    *out = v->f64_at(index);
    return int(STRATA_PLUGIN_OK);
  });
}

int copy_array_f32(void* ctx, const char* key, float* out, uint64_t count) {
  return guarded([&] {
    const Value* v = file_of(ctx).find(key);
    if (!v) return int(STRATA_PLUGIN_ENOTFOUND);
    if (!v->is_array() || count > v->size()) return int(STRATA_PLUGIN_EINVAL);
    if (!gguf::is_integer_type(v->array_type()) && !is_float(v->array_type())) return int(STRATA_PLUGIN_EINVAL);
    for (uint64_t i = 0; i < count; ++i) out[i] = static_cast<float>(v->f64_at(i));
    return int(STRATA_PLUGIN_OK);
  });
}

int copy_array_i32(void* ctx, const char* key, int32_t* out, uint64_t count) {
  return guarded([&] {
    const Value* v = file_of(ctx).find(key);
    if (!v) return int(STRATA_PLUGIN_ENOTFOUND);
    if (!v->is_array() || count > v->size()) return int(STRATA_PLUGIN_EINVAL);
    if (!gguf::is_integer_type(v->array_type()) && v->array_type() != ValueType::BOOL) return int(STRATA_PLUGIN_EINVAL);
    for (uint64_t i = 0; i < count; ++i) {
      int64_t x = v->i64_at(i);
      if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
        return int(STRATA_PLUGIN_EINVAL);
      out[i] = static_cast<int32_t>(x);
    }
    return int(STRATA_PLUGIN_OK);
  });
}

int tensor_shape(void* ctx, const char* name, int64_t dims[4], int* n_dims) {
  const auto* t = file_of(ctx).find_tensor(name);
  if (!t) return STRATA_PLUGIN_ENOTFOUND;
  *n_dims = static_cast<int>(t->dims.size());
  for (int i = 0; i < 4; ++i) dims[i] = i < *n_dims ? t->dims[i] : 1;
  return STRATA_PLUGIN_OK;
}

int copy_tensor_f32(void* ctx, const char* name, float* out, uint64_t count) {
  const auto* t = file_of(ctx).find_tensor(name);
  if (!t) return STRATA_PLUGIN_ENOTFOUND;
  if (t->type != TensorType::F32) return STRATA_PLUGIN_EUNSUPPORTED;
  if (count > static_cast<uint64_t>(t->n_elements())) return STRATA_PLUGIN_EINVAL;
  std::memcpy(out, t->data, count * sizeof(float));
  return STRATA_PLUGIN_OK;
}

}  // namespace

MetadataBridge::MetadataBridge(const gguf::GgufFile& file) : file_(file) {
  std::memset(&table_, 0, sizeof(table_));
  table_.struct_size = sizeof(table_);
  table_.ctx = const_cast<gguf::GgufFile*>(&file_);
  table_.type_of = type_of;
  table_.get_i64 = get_i64;
  table_.get_f64 = get_f64;
  table_.get_bool = get_bool;
  table_.get_string = get_string;
  table_.get_array_string = get_array_string;
  table_.get_array_i64 = get_array_i64;
  table_.get_array_f64 = get_array_f64;
  table_.copy_array_f32 = copy_array_f32;
  table_.copy_array_i32 = copy_array_i32;
  table_.tensor_shape = tensor_shape;
  table_.copy_tensor_f32 = copy_tensor_f32;
}

}  // namespace strata
