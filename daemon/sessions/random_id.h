#pragma once

#include <cstddef>
#include <string>

namespace strata::daemon {

// `bytes` bytes from the kernel's CSPRNG (getrandom), as lowercase hex (2 * bytes digits).
std::string random_hex(size_t bytes);

}  // namespace strata::daemon
