/* Proves the client header is valid C11 (compiled with -std=c11 -Wpedantic) and that a C
 * program links against libstrata and can use every type. */
#include "strata/strata.h"

#include <string.h>

static int count_tokens(void *user, int32_t token, const char *text, size_t len) {
  (void)token;
  (void)text;
  *(size_t *)user += len;
  return 0;
}

/* Called from the C++ test: returns 0 when the C view of the library behaves. */
int strata_client_header_c_check(void) {
  strata_client_options options;
  strata_generate_params params;
  strata_chat_params chat;
  strata_message message = {"user", "hi"};
  strata_client *client = NULL;
  strata_response *response = NULL;
  strata_token_fn fn = count_tokens;
  size_t seen = 0;

  strata_client_options_init(&options);
  strata_generate_params_init(&params);
  strata_chat_params_init(&chat);
  chat.messages = &message;
  chat.n_messages = 1;
  options.socket_path = "/nonexistent/strata-test.sock";
  if (options.struct_size != sizeof options || params.max_tokens != -1 || params.temperature >= 0) return 1;
  if (strata_version_number() != STRATA_VERSION_NUMBER || strcmp(strata_version(), "0.1.0") != 0) return 2;
  if (strata_client_create(&options, &client) != STRATA_OK) return 3;
  params.prompt = "x";
  if (strata_generate(client, &params, fn, &seen, &response) != STRATA_ERR_CONNECT || response != NULL) return 4;
  if (strata_last_error(client)[0] == '\0') return 5;
  strata_client_destroy(client);
  strata_client_destroy(NULL);
  strata_free_response(NULL);
  (void)fn(&seen, 0, "ab", 2);
  return seen == 2 ? 0 : 6;
}
