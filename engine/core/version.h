#pragma once

namespace strata {
// The project version, e.g. "0.1.0".
const char* version_string();
}  // namespace strata
