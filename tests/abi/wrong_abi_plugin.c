/* A plugin built for a future ABI version: the host must refuse it with a clear message. */
#include "strata/plugin.h"

static const char *const archs[] = {"nothing", 0};
static int describe(const strata_metadata *m, strata_model_desc *d, strata_plugin_error *e) {
  (void)m; (void)d; (void)e;
  return STRATA_PLUGIN_EINTERNAL;
}
static const strata_family_api family = {sizeof(strata_family_api), archs, describe};
static const strata_plugin_descriptor descriptor = {
    STRATA_PLUGIN_ABI_VERSION + 1, sizeof(strata_plugin_descriptor), STRATA_PLUGIN_FAMILY, "wrong-abi", "0", 0, &family};

STRATA_PLUGIN_EXPORT const strata_plugin_descriptor *strata_plugin_entry(uint32_t host) {
  (void)host;
  return &descriptor;
}
