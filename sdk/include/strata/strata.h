/* libstrata: the client library for stratad, as a C API.
 *
 * It speaks HTTP/1.1 + JSON to the daemon over its Unix socket (or loopback TCP with a bearer
 * token), streams tokens over SSE, and never loads a model itself. docs/sdk.md has examples;
 * strata/strata.hpp wraps this API in RAII C++ with exceptions.
 *
 * Conventions:
 *  - Every call that talks to the daemon returns a strata_result: STRATA_OK (0) or one of the
 *    STRATA_ERR_* codes below. On failure, strata_last_error(client) gives a one-line message
 *    (the daemon's own message for HTTP errors) and strata_last_http_status(client) the status.
 *    Both stay valid until the next call with the same client; a successful call clears them.
 *  - Objects the library returns (strata_response, strata_session_info, ...) are allocated by it
 *    and released with the matching strata_free_* function. Every destroy/free accepts NULL.
 *    Their strings are UTF-8, NUL-terminated and never NULL ("" when the daemon sent nothing).
 *  - Returned structs begin with struct_size (the size the library filled in) and only ever grow
 *    at their end, so a caller built against an older header reads them safely. Structs the
 *    caller fills (options, params) also begin with struct_size: call the matching *_init
 *    function first, which sets it and every default.
 *  - A strata_client is not thread-safe: use one per thread (they are cheap: one connection).
 *    Callbacks run on the calling thread, inside the call.
 *  - No function aborts the process or raises a signal (SIGPIPE is suppressed per send).
 *
 * This header is valid C11 and C++ (tests/sdk compiles it as C11 with -Wpedantic).
 */
#ifndef STRATA_STRATA_H
#define STRATA_STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. strata_version() gives the library's; a program may compare them.
 * The ABI is kept within a major version (SONAME libstrata.so.MAJOR); before 1.0, within a minor
 * version (libstrata.so.0.MINOR). */
#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0
#define STRATA_VERSION_NUMBER (STRATA_VERSION_MAJOR * 10000 + STRATA_VERSION_MINOR * 100 + STRATA_VERSION_PATCH)

#if defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

/* ---- results ------------------------------------------------------------------------------ */

typedef enum strata_result {
  STRATA_OK = 0,
  /* The caller passed NULL where a value is required, a struct_size too small, a malformed TCP
   * address, a socket path too long, or a token with control characters. Nothing was sent. */
  STRATA_ERR_INVALID_ARGUMENT = 1,
  STRATA_ERR_NO_MEMORY = 2,
  /* No connection to the daemon: no socket at the path, permission denied on it, connection
   * refused, an unknown host, or the connect timeout passed. The daemon is probably not running
   * (or the caller is not in the group allowed to use its socket). */
  STRATA_ERR_CONNECT = 3,
  /* The connection broke during a request: reset, or closed before the response was complete. */
  STRATA_ERR_IO = 4,
  /* No byte came from the daemon within io_timeout_ms. The connection was closed. */
  STRATA_ERR_TIMEOUT = 5,
  /* The daemon's answer was not HTTP/1.1, SSE or JSON of the documented shape. */
  STRATA_ERR_PROTOCOL = 6,
  /* HTTP 400, 413, 422 and any 4xx not listed below: the daemon refused the request's values
   * (malformed JSON, a value out of range, a body too large, a prompt longer than the context). */
  STRATA_ERR_INVALID_REQUEST = 7,
  /* HTTP 401 or 403: a missing or wrong bearer token on TCP. */
  STRATA_ERR_UNAUTHORIZED = 8,
  /* HTTP 404: an unknown model (the message lists the known ones), or a session that does not
   * exist or belongs to another user. */
  STRATA_ERR_NOT_FOUND = 9,
  /* HTTP 429: a limit was reached (queue full, too many sequences, memory budget). Retry later. */
  STRATA_ERR_RATE_LIMITED = 10,
  /* HTTP 5xx: the daemon failed while serving the request. */
  STRATA_ERR_SERVER = 11,
  /* The token callback returned non-zero; the library closed the connection, which makes the
   * daemon stop generating. */
  STRATA_ERR_CANCELLED = 12
} strata_result;

/* A static, one-line English description of a result code ("stratad is not reachable", ...);
 * "unknown result code" for a value that is none of them (it takes an int for that reason). */
STRATA_API const char *strata_result_string(int result);

/* The library's version as "MAJOR.MINOR.PATCH" (static storage), and as a number in the form of
 * STRATA_VERSION_NUMBER. */
STRATA_API const char *strata_version(void);
STRATA_API uint32_t strata_version_number(void);

/* ---- the client --------------------------------------------------------------------------- */

typedef struct strata_client strata_client; /* opaque */

typedef struct strata_client_options {
  uint32_t struct_size; /* sizeof(strata_client_options); set by strata_client_options_init */
  /* The daemon's Unix socket. NULL or "": $STRATA_SOCKET when set; otherwise
   * $XDG_RUNTIME_DIR/strata/stratad.sock (the user service) when that socket exists, else
   * /run/strata/stratad.sock (the system service) when it exists, else the first of those two
   * that applies. The default is resolved again at every (re)connection. */
  const char *socket_path;
  /* "host:port" ("127.0.0.1:8765", "[::1]:8765", "localhost:8765"): connect over TCP instead of
   * the Unix socket. NULL or "": use the socket. */
  const char *tcp_address;
  /* Sent as "Authorization: Bearer TOKEN" (needed on TCP). NULL or "": none. */
  const char *bearer_token;
  /* How long a connection attempt may take, in milliseconds. 0: 5000. */
  int32_t connect_timeout_ms;
  /* The longest wait for any byte from the daemon once a request is sent, in milliseconds.
   * 0: no limit (loading a large model before the first token can take minutes). */
  int32_t io_timeout_ms;
  /* Appended after 0.1.0: read only when struct_size covers it. strata_generate sends its prompt and
   * receives top_probs/logits through a shared-memory channel (docs/sdk.md) when its estimated
   * payload is at least this many bytes, over the Unix socket only. 0: STRATA_SHM_THRESHOLD_DEFAULT;
   * < 0: never (always the socket). When the daemon cannot open a channel, the socket is used. */
  int64_t shm_threshold_bytes;
} strata_client_options;

/* The default of strata_client_options.shm_threshold_bytes, from bench/shm_vs_socket.cpp: below
 * it the channel saves less per request than opening it costs once (bench/README.md). */
#define STRATA_SHM_THRESHOLD_DEFAULT (64 * 1024)

/* Fills in struct_size and the defaults (all NULL / 0). */
STRATA_API void strata_client_options_init(strata_client_options *options);

/* Creates a client; it connects on its first request (or strata_client_connect) and keeps the
 * connection alive between requests, reconnecting when the daemon closed it. options may be
 * NULL (all defaults); its strings are copied. Fails only with STRATA_ERR_INVALID_ARGUMENT
 * (out is NULL, struct_size too small) or STRATA_ERR_NO_MEMORY; *out is NULL then. */
STRATA_API strata_result strata_client_create(const strata_client_options *options, strata_client **out);

/* Closes the connection and frees the client. NULL is a no-op. */
STRATA_API void strata_client_destroy(strata_client *client);

/* Connects now (when not connected yet), to learn early whether the daemon is reachable:
 * STRATA_OK or STRATA_ERR_CONNECT / STRATA_ERR_INVALID_ARGUMENT. Optional. */
STRATA_API strata_result strata_client_connect(strata_client *client);

/* Where the client connects: "unix:/run/strata/stratad.sock" or "tcp:HOST:PORT" ("" when the
 * TCP address is malformed). Valid until the next call with this client; it leaves the last
 * error as it is. */
STRATA_API const char *strata_client_endpoint(strata_client *client);

/* The message of the last failed call with this client ("" after a success). Never NULL;
 * NULL client gives "". Valid until the next call with this client. */
STRATA_API const char *strata_last_error(const strata_client *client);

/* The HTTP status of the last failed call's response, or 0 when none came (connect or I/O
 * failure, cancellation, an invalid argument) or the last call succeeded. */
STRATA_API int strata_last_http_status(const strata_client *client);

/* ---- generation --------------------------------------------------------------------------- */

/* Called once per generated token while a response streams. token is the token id (-1 when the
 * route does not give ids: chat); text is its text (UTF-8, possibly empty when a token ends
 * inside a multi-byte character; NUL-terminated; valid only during the call). Return 0 to go
 * on, non-zero to cancel: the call then returns STRATA_ERR_CANCELLED. */
typedef int (*strata_token_fn)(void *user_data, int32_t token, const char *text, size_t text_len);

/* Sampling fields shared by generate and chat; negative means "the daemon's default". */
typedef struct strata_generate_params {
  uint32_t struct_size; /* set by strata_generate_params_init */
  const char *model;    /* model name; NULL or "": omitted (the daemon decides, or the session's) */
  const char *prompt;   /* required, UTF-8 */
  /* NULL or "": a new session is created (its id comes back in strata_response.session).
   * Otherwise the prompt is appended to that session's context; its history is not resent. */
  const char *session;
  int32_t max_tokens; /* < 0: default */
  int32_t top_k;      /* < 0: default; 0 disables */
  double temperature; /* < 0: default; 0 is greedy */
  double top_p;       /* < 0: default */
  int32_t has_seed;   /* non-zero: send seed */
  uint64_t seed;
  const char *const *stop; /* n_stop stop strings; may be NULL when n_stop is 0 */
  size_t n_stop;
  /* Appended after 0.1.0 (strata_generate reads them only when struct_size covers them). */
  /* The prompt as token ids instead of text: when prompt_tokens is not NULL, prompt is ignored
   * (and may be NULL). */
  const int32_t *prompt_tokens;
  size_t n_prompt_tokens;
  /* > 0: per generated token, the top_probs most likely tokens and their probabilities
   * (strata_response.top_*). They are the model's own distribution: softmax of the logits at
   * temperature 1, before penalties and top-k/top-p/min-p. Clamped to the vocabulary size. */
  int32_t top_probs;
  /* Non-zero: strata_response.logits gets the logits of the last computed position (the
   * distribution the last token was drawn from; with max_tokens 0, the one after the prompt). */
  int32_t logits;
} strata_generate_params;

STRATA_API void strata_generate_params_init(strata_generate_params *params);

/* One chat message. This struct is frozen: the library reads arrays of it with this layout. */
typedef struct strata_message {
  const char *role; /* "system", "user" or "assistant" */
  const char *content;
} strata_message;

typedef struct strata_chat_params {
  uint32_t struct_size; /* set by strata_chat_params_init */
  const char *model;    /* NULL or "": omitted */
  const strata_message *messages;
  size_t n_messages;
  int32_t max_tokens; /* < 0: default */
  int32_t top_k;      /* < 0: default (not an OpenAI field; sent only when set) */
  double temperature; /* < 0: default */
  double top_p;       /* < 0: default */
  int32_t has_seed;
  uint64_t seed;
  const char *const *stop;
  size_t n_stop;
} strata_chat_params;

STRATA_API void strata_chat_params_init(strata_chat_params *params);

/* A finished generation or chat completion. */
typedef struct strata_response {
  uint32_t struct_size;
  char *session;         /* generate: the session id to continue with; chat: "" */
  char *id;              /* chat: the completion id; generate: "" */
  char *model;
  char *text;            /* the whole generated text */
  int32_t *tokens;       /* generate: the generated token ids; NULL when n_tokens is 0 */
  size_t n_tokens;
  char *finish_reason;   /* "stop", "length", ... */
  int64_t prompt_tokens;
  int64_t completion_tokens;
  /* The response as JSON text: generate, the daemon's native response object; chat, a
   * chat.completion object (assembled from the chunks when streamed). */
  char *json;
  /* Appended after 0.1.0: read them only when struct_size covers them. */
  int32_t top_k;            /* entries per generated token in top_prob_*; 0 when not asked */
  size_t n_top_probs;       /* n_tokens_with_probs * top_k entries */
  int32_t *top_prob_tokens; /* [i * top_k + j]: the j-th most likely token at generated token i */
  float *top_prob_values;   /* its probability; NULL arrays when n_top_probs is 0 */
  float *logits;            /* n_logits floats (the vocabulary size); NULL when not asked */
  size_t n_logits;
  /* Non-zero when the request went through a shared-memory channel (the prompt and these
   * outputs did not cross the socket); json then describes them by offsets ("shm_output")
   * instead of holding them. */
  int32_t used_shm;
} strata_response;

/* POST /strata/v1/generate. With on_token, the response streams (SSE) and on_token sees every
 * token before the call returns; without it, one JSON response. out may be NULL when only the
 * stream matters; otherwise *out is set on STRATA_OK (free it with strata_free_response) and
 * NULL on failure. */
STRATA_API strata_result strata_generate(strata_client *client, const strata_generate_params *params,
                                         strata_token_fn on_token, void *user_data, strata_response **out);

/* POST /v1/chat/completions (OpenAI-compatible; the whole conversation is sent each time). */
STRATA_API strata_result strata_chat(strata_client *client, const strata_chat_params *params, strata_token_fn on_token,
                                     void *user_data, strata_response **out);

STRATA_API void strata_free_response(strata_response *response);

/* ---- sessions ----------------------------------------------------------------------------- */

typedef struct strata_session_info {
  uint32_t struct_size;
  char *id;
  char *model;
  int64_t tokens;    /* tokens in the session's context */
  int64_t created;   /* Unix time, seconds */
  int64_t last_used; /* Unix time, seconds */
  int64_t kv_bytes;  /* KV cache bytes the session holds */
  char *text;        /* strata_session_get only: the detokenized history; "" in lists */
  char *json;        /* the daemon's object for this session */
} strata_session_info;

typedef struct strata_session_list {
  uint32_t struct_size;
  strata_session_info **items; /* count pointers (an array of pointers, so the item struct can grow) */
  size_t count;
  char *json; /* the daemon's whole response */
} strata_session_list;

/* The caller's sessions (a daemon lists only the sessions of the connecting Unix user). */
STRATA_API strata_result strata_sessions_list(strata_client *client, strata_session_list **out);
/* One session with its text. STRATA_ERR_NOT_FOUND when unknown or another user's. */
STRATA_API strata_result strata_session_get(strata_client *client, const char *id, strata_session_info **out);
/* Deletes a session. STRATA_ERR_NOT_FOUND when unknown or another user's. */
STRATA_API strata_result strata_session_delete(strata_client *client, const char *id);

STRATA_API void strata_free_session_list(strata_session_list *list);
STRATA_API void strata_free_session(strata_session_info *session);

/* Appended after 0.1.0: session archives (docs/protocol.md, "Session archives").
 * Writes the session's archive (GET /strata/v1/sessions/{id}/export) to the file `path`, created
 * or replaced (written to a temporary file beside it, then renamed). STRATA_ERR_NOT_FOUND when
 * the session is unknown or another user's; STRATA_ERR_IO when the file cannot be written. */
STRATA_API strata_result strata_session_export(strata_client *client, const char *id, const char *path);
/* Sends the archive in the file `path` (POST /strata/v1/sessions/import); the daemon verifies it
 * and creates a new session of the caller, whose id comes back in *new_id (free it with
 * strata_free_string). STRATA_ERR_INVALID_REQUEST for a damaged or foreign archive (the message
 * names the cause); STRATA_ERR_IO when the file cannot be read. */
STRATA_API strata_result strata_session_import(strata_client *client, const char *path, char **new_id);

/* ---- daemon status and models ------------------------------------------------------------- */

typedef struct strata_model_status {
  uint32_t struct_size;
  char *name;
  char *path;
  int32_t loaded;  /* non-zero when its weights are in memory */
  int32_t loading; /* non-zero while they are being loaded */
  int64_t weights_bytes;
  int64_t kv_bytes;
  int64_t scratch_bytes;
  int64_t sessions;
  int64_t queued;  /* requests waiting */
  int64_t running; /* sequences in the running batch */
  /* Appended after 0.1.0: read them only when struct_size covers them. */
  char *kv_type;         /* "f16", "q8_0" or "q4g"; "" from an older daemon */
  int64_t kv_free_bytes; /* KV pages kept for reuse */
  int64_t total_bytes;   /* weights + KV in use + KV kept + scratch */
} strata_model_status;

typedef struct strata_status {
  uint32_t struct_size;
  char *version; /* the daemon's version */
  double uptime_s;
  strata_model_status **models;
  size_t n_models;
  size_t n_sessions; /* sessions listed in the status (the caller's) */
  char *json;        /* the daemon's whole response */
} strata_status;

/* GET /strata/v1/status. */
STRATA_API strata_result strata_status_get(strata_client *client, strata_status **out);
STRATA_API void strata_free_status(strata_status *status);

typedef struct strata_model_list {
  uint32_t struct_size;
  char **names; /* count model names, in the daemon's order */
  size_t count;
  char *json;   /* the daemon's whole response */
} strata_model_list;

/* GET /v1/models. */
STRATA_API strata_result strata_models_list(strata_client *client, strata_model_list **out);
STRATA_API void strata_free_model_list(strata_model_list *list);

/* ---- misc --------------------------------------------------------------------------------- */

/* The socket path a client with default options would use now (see socket_path above), in
 * *out; free it with strata_free_string. */
STRATA_API strata_result strata_default_socket_path(char **out);
STRATA_API void strata_free_string(char *s);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_STRATA_H */
