/* consumer [SOCKET MODEL PROMPT]: prints the library's version; with arguments, streams a
 * generation from the daemon at SOCKET and prints the session id. Exit status 0 on success. */
#include <stdio.h>
#include <string.h>

#include <strata/strata.h>

static int print_token(void *user, int32_t token, const char *text, size_t len) {
  (void)token;
  ++*(int *)user;
  fwrite(text, 1, len, stdout);
  return 0;
}

int main(int argc, char **argv) {
  strata_client_options options;
  strata_generate_params params;
  strata_client *client = NULL;
  strata_response *response = NULL;
  strata_result r;
  int tokens = 0;

  printf("libstrata %s\n", strata_version());
  if (strata_version_number() != STRATA_VERSION_NUMBER) {
    fprintf(stderr, "header %d, library %u\n", STRATA_VERSION_NUMBER, (unsigned)strata_version_number());
    return 3;
  }
  if (argc < 4) return 0;

  strata_client_options_init(&options);
  options.socket_path = argv[1];
  if (strata_client_create(&options, &client) != STRATA_OK) return 1;
  strata_generate_params_init(&params);
  params.model = argv[2];
  params.prompt = argv[3];
  params.max_tokens = 8;
  r = strata_generate(client, &params, print_token, &tokens, &response);
  if (r != STRATA_OK) {
    fprintf(stderr, "consumer: %s: %s\n", strata_result_string(r), strata_last_error(client));
    strata_client_destroy(client);
    return 1;
  }
  printf("\nsession %s, %d tokens streamed, %zu in the response\n", response->session, tokens, response->n_tokens);
  strata_free_response(response);
  strata_client_destroy(client);
  return 0;
}
