#include "engine/core/version.h"

namespace strata {
const char* version_string() { return STRATA_VERSION_STRING; }
}  // namespace strata
