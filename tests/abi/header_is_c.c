/* Proves the public plugin header is valid C11: compiled as C, and exercising its types. */
#include "strata/plugin.h"

int strata_abi_c_check(void) {
  strata_model_desc d;
  strata_plugin_error err;
  strata_metadata meta;
  d.struct_size = sizeof d;
  err.message[0] = '\0';
  meta.struct_size = sizeof meta;
  return (int)(d.struct_size + meta.struct_size) + err.message[0] + STRATA_T_ROLE_COUNT;
}
