/* Strata plugin ABI: tokenizer and model-family plugins.
 *
 * A plugin is a shared library exporting one symbol, strata_plugin_entry. The host calls it with
 * its own ABI version and gets back a descriptor that begins with abi_version and struct_size;
 * the host refuses a plugin whose ABI major version differs from its own, with a message naming
 * both versions. Tables only ever grow at their end: a field past struct_size is absent.
 *
 * Everything a plugin learns about a model comes through strata_metadata (GGUF keys and tensor
 * shapes, read by the host); plugins never open files themselves.
 *
 * Conventions:
 *  - Functions return STRATA_PLUGIN_OK (0) or a negative STRATA_PLUGIN_E* code. On failure they
 *    write a one-line message into the caller's strata_plugin_error (which may be NULL).
 *  - destroy(NULL) is a no-op.
 *  - Strings are UTF-8, (pointer, length) pairs, and not NUL-terminated unless stated.
 *  - Pointers returned by the host's strata_metadata stay valid as long as the model is loaded.
 *
 * This header is valid C11 and C++ (tests/abi compiles it as C).
 */
#ifndef STRATA_PLUGIN_H
#define STRATA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Major version: bumped on any incompatible change. The host refuses a plugin built against
 * another major. */
#define STRATA_PLUGIN_ABI_VERSION 1u

#if defined(__GNUC__)
#define STRATA_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define STRATA_PLUGIN_EXPORT
#endif

/* ---- results ---------------------------------------------------------------------------- */

enum {
  STRATA_PLUGIN_OK = 0,
  STRATA_PLUGIN_EINVAL = -1,       /* a malformed argument */
  STRATA_PLUGIN_ENOTFOUND = -2,    /* a metadata key, tensor or token that does not exist */
  STRATA_PLUGIN_EUNSUPPORTED = -3, /* the model uses something this plugin does not implement */
  STRATA_PLUGIN_EMODEL = -4,       /* the model's metadata is inconsistent or invalid */
  STRATA_PLUGIN_ENOSPACE = -5,     /* an output buffer is too small; the needed size is reported */
  STRATA_PLUGIN_ENOMEM = -6,
  STRATA_PLUGIN_EINTERNAL = -7
};

typedef struct strata_plugin_error {
  char message[512]; /* NUL-terminated, one line */
} strata_plugin_error;

/* ---- what the host tells plugins about a model: GGUF metadata and tensor shapes ----------- */

/* Metadata value types, numbered as in GGUF. */
enum {
  STRATA_META_U8 = 0,
  STRATA_META_I8 = 1,
  STRATA_META_U16 = 2,
  STRATA_META_I16 = 3,
  STRATA_META_U32 = 4,
  STRATA_META_I32 = 5,
  STRATA_META_F32 = 6,
  STRATA_META_BOOL = 7,
  STRATA_META_STRING = 8,
  STRATA_META_ARRAY = 9,
  STRATA_META_U64 = 10,
  STRATA_META_I64 = 11,
  STRATA_META_F64 = 12
};

typedef struct strata_metadata {
  uint32_t struct_size;
  void *ctx; /* the host's; passed back to every function below */

  /* Type of a key (STRATA_META_*), or -1 when absent. For arrays, *elem_type and *count are
   * set when non-NULL. */
  int (*type_of)(void *ctx, const char *key, int *elem_type, uint64_t *count);
  /* Scalars, converted to the requested C type when lossless (an integer key read as double,
   * a u32 read as i64, ...); EINVAL when not convertible, ENOTFOUND when absent. */
  int (*get_i64)(void *ctx, const char *key, int64_t *out);
  int (*get_f64)(void *ctx, const char *key, double *out);
  int (*get_bool)(void *ctx, const char *key, int *out);
  int (*get_string)(void *ctx, const char *key, const char **str, size_t *len);
  /* Elements of a one-level array. */
  int (*get_array_string)(void *ctx, const char *key, uint64_t index, const char **str, size_t *len);
  int (*get_array_i64)(void *ctx, const char *key, uint64_t index, int64_t *out);
  int (*get_array_f64)(void *ctx, const char *key, uint64_t index, double *out);
  /* Bulk copies of a numeric array, converted (count elements from index 0; count must not
   * exceed the array's length). */
  int (*copy_array_f32)(void *ctx, const char *key, float *out, uint64_t count);
  int (*copy_array_i32)(void *ctx, const char *key, int32_t *out, uint64_t count);

  /* Shape of a tensor in ggml order (dims[0] contiguous); ENOTFOUND when the model has no
   * tensor of that name. */
  int (*tensor_shape)(void *ctx, const char *name, int64_t dims[4], int *n_dims);
  /* Copies a small F32 tensor's values (e.g. rope_freqs); EUNSUPPORTED when it is not F32. */
  int (*copy_tensor_f32)(void *ctx, const char *name, float *out, uint64_t count);
} strata_metadata;

/* ---- tokenizer plugins ------------------------------------------------------------------- */

typedef struct strata_tokenizer strata_tokenizer; /* opaque, owned by the plugin */

/* Flags for encode. */
enum {
  STRATA_TOKENIZE_ADD_BOS = 1u << 0,       /* prepend BOS */
  STRATA_TOKENIZE_ADD_EOS = 1u << 1,       /* append EOS */
  STRATA_TOKENIZE_PARSE_SPECIAL = 1u << 2, /* text such as "<|eot_id|>" becomes its special token */
  STRATA_TOKENIZE_ADD_DEFAULT = 1u << 3    /* add BOS/EOS as the model's metadata says */
};

/* Flags for token_to_piece. */
enum {
  STRATA_PIECE_RENDER_SPECIAL = 1u << 0 /* render control tokens as their text; else empty */
};

/* Token attributes (bit set). */
enum {
  STRATA_TOKEN_NORMAL = 1u << 0,
  STRATA_TOKEN_CONTROL = 1u << 1,
  STRATA_TOKEN_USER_DEFINED = 1u << 2,
  STRATA_TOKEN_BYTE = 1u << 3,
  STRATA_TOKEN_UNKNOWN = 1u << 4,
  STRATA_TOKEN_UNUSED = 1u << 5
};

/* Special token roles for special_token(). */
enum {
  STRATA_SPECIAL_BOS = 0,
  STRATA_SPECIAL_EOS = 1,
  STRATA_SPECIAL_EOT = 2, /* end of turn (chat) */
  STRATA_SPECIAL_UNK = 3,
  STRATA_SPECIAL_PAD = 4,
  STRATA_SPECIAL_FIM_PRE = 5,
  STRATA_SPECIAL_FIM_SUF = 6,
  STRATA_SPECIAL_FIM_MID = 7
};

typedef struct strata_tokenizer_api {
  uint32_t struct_size;
  /* 1 when this plugin handles the model's tokenizer (tokenizer.ggml.model and .pre). */
  int (*supports)(const strata_metadata *meta);
  int (*create)(const strata_metadata *meta, strata_tokenizer **out, strata_plugin_error *err);
  void (*destroy)(strata_tokenizer *tok);

  int32_t (*n_vocab)(const strata_tokenizer *tok);
  /* Token id of a role, or -1 when the model has none. */
  int32_t (*special_token)(const strata_tokenizer *tok, int role);
  /* 1 when ADD_DEFAULT adds BOS (resp. EOS). */
  int (*adds_bos)(const strata_tokenizer *tok);
  int (*adds_eos)(const strata_tokenizer *tok);
  uint32_t (*token_attr)(const strata_tokenizer *tok, int32_t id); /* 0 for an invalid id */

  /* Encodes text. Writes at most capacity ids; *n_tokens receives the total count. When the
   * capacity is too small, returns ENOSPACE with *n_tokens set to the needed count. */
  int (*encode)(const strata_tokenizer *tok, const char *text, size_t len, uint32_t flags, int32_t *tokens,
                size_t capacity, size_t *n_tokens, strata_plugin_error *err);
  /* The bytes a token stands for (byte tokens give their single raw byte, which may be part of
   * a multibyte character: the host assembles valid UTF-8 across tokens). Same capacity
   * protocol as encode, with *len the byte count. */
  int (*token_to_piece)(const strata_tokenizer *tok, int32_t id, uint32_t flags, char *buf, size_t capacity,
                        size_t *len);
} strata_tokenizer_api;

/* ---- model-family plugins ---------------------------------------------------------------- */

/* A model family *describes* a model; the engine's generic decoder executes the description.
 * Tensor names are printf-style patterns with one %d for the layer index ("blk.%d.attn_q.weight")
 * or plain names for global tensors; a NULL or empty name means the model has no such tensor. */

enum { STRATA_NORM_RMS = 0, STRATA_NORM_LAYER = 1 };
enum { STRATA_ACT_SILU = 0, STRATA_ACT_GELU = 1 };
enum { STRATA_FFN_GATED = 0 /* act(gate(x)) * up(x) */, STRATA_FFN_PLAIN = 1 /* act(up(x)) */ };
/* RoPE pairing: NORM rotates adjacent pairs (x[2i], x[2i+1]) (Llama in GGUF); NEOX rotates
 * (x[i], x[i + rot_dim/2]) (Qwen2, Gemma, ...). */
enum { STRATA_ROPE_NORM = 0, STRATA_ROPE_NEOX = 1 };
enum {
  STRATA_ROPE_SCALING_NONE = 0,
  STRATA_ROPE_SCALING_LINEAR = 1, /* positions multiplied by freq_scale */
  STRATA_ROPE_SCALING_FREQ_FACTORS = 2 /* angle of pair i divided by factors[i] (Llama 3.1) */
};

/* Tensor roles: index into strata_model_desc.tensor_names. Append only. */
enum {
  STRATA_T_TOKEN_EMBD = 0,
  STRATA_T_OUTPUT_NORM,
  STRATA_T_OUTPUT_NORM_BIAS,
  STRATA_T_OUTPUT, /* absent with tied embeddings: token_embd is used */
  STRATA_T_ROPE_FREQS,
  STRATA_T_ATTN_NORM,
  STRATA_T_ATTN_NORM_BIAS,
  STRATA_T_ATTN_Q,
  STRATA_T_ATTN_K,
  STRATA_T_ATTN_V,
  STRATA_T_ATTN_Q_BIAS,
  STRATA_T_ATTN_K_BIAS,
  STRATA_T_ATTN_V_BIAS,
  STRATA_T_ATTN_OUT,
  STRATA_T_ATTN_OUT_BIAS,
  STRATA_T_FFN_NORM,
  STRATA_T_FFN_NORM_BIAS,
  STRATA_T_FFN_GATE,
  STRATA_T_FFN_UP,
  STRATA_T_FFN_DOWN,
  STRATA_T_ROLE_COUNT
};

#define STRATA_MAX_TENSOR_NAME 96

typedef struct strata_model_desc {
  uint32_t struct_size;
  char architecture[32]; /* "llama" */

  /* hyper-parameters */
  uint32_t n_layer;
  uint32_t n_embd;
  uint32_t n_head;
  uint32_t n_head_kv;
  uint32_t head_dim; /* n_embd / n_head unless the model says otherwise */
  uint32_t n_ff;
  uint32_t n_vocab;
  uint32_t n_ctx_train;
  float norm_eps;

  int norm_type;  /* STRATA_NORM_* */
  int activation; /* STRATA_ACT_* */
  int ffn_kind;   /* STRATA_FFN_* */

  /* RoPE */
  int rope_type;      /* STRATA_ROPE_* */
  uint32_t rope_dim;  /* dimensions rotated per head (<= head_dim) */
  float rope_freq_base;
  int rope_scaling;   /* STRATA_ROPE_SCALING_* */
  float rope_freq_scale; /* LINEAR: position multiplier (1 = none) */

  int tied_embeddings; /* 1: the output matrix is token_embd */
  float embd_scale;    /* multiplier applied to embeddings (1 for Llama; sqrt(n_embd) for Gemma) */

  char tensor_names[STRATA_T_ROLE_COUNT][STRATA_MAX_TENSOR_NAME];
} strata_model_desc;

typedef struct strata_family_api {
  uint32_t struct_size;
  /* Architectures this family describes, NULL-terminated ("llama", "mistral", NULL). */
  const char *const *architectures;
  /* Fills *desc (zeroed and struct_size set by the host) from the model's metadata. Returns
   * EMODEL with a message naming the key when the metadata is missing or inconsistent. */
  int (*describe)(const strata_metadata *meta, strata_model_desc *desc, strata_plugin_error *err);
} strata_family_api;

/* ---- the entry point ----------------------------------------------------------------------- */

enum { STRATA_PLUGIN_TOKENIZER = 1, STRATA_PLUGIN_FAMILY = 2 };

typedef struct strata_plugin_descriptor {
  uint32_t abi_version; /* STRATA_PLUGIN_ABI_VERSION the plugin was built with */
  uint32_t struct_size; /* sizeof(strata_plugin_descriptor) as the plugin knows it */
  int kind;             /* STRATA_PLUGIN_* */
  const char *name;     /* short unique name, e.g. "tokenizer-spm", "family-llama" */
  const char *version;  /* the plugin's own version string */
  const strata_tokenizer_api *tokenizer; /* kind == STRATA_PLUGIN_TOKENIZER */
  const strata_family_api *family;       /* kind == STRATA_PLUGIN_FAMILY */
} strata_plugin_descriptor;

/* The one exported symbol. host_abi_version lets a plugin refuse an older host (return NULL). */
typedef const strata_plugin_descriptor *(*strata_plugin_entry_fn)(uint32_t host_abi_version);
#define STRATA_PLUGIN_ENTRY_SYMBOL "strata_plugin_entry"

#ifdef __cplusplus
}
#endif

#endif /* STRATA_PLUGIN_H */
