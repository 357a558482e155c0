// consumer_cpp [SOCKET]: the installed C++ wrapper: prints the version; with a socket, the
// daemon's models, one per line.
#include <cstdio>

#include <strata/strata.hpp>

int main(int argc, char** argv) {
  std::printf("libstrata %s (C++)\n", strata::client::version().c_str());
  if (argc < 2) return 0;
  try {
    strata::client::Options o;
    o.socket_path = argv[1];
    strata::client::Client c(o);
    for (const auto& name : c.models().names) std::printf("%s\n", name.c_str());
  } catch (const strata::client::Error& e) {
    std::fprintf(stderr, "consumer_cpp: %s (code %d)\n", e.what(), static_cast<int>(e.code()));
    return 1;
  }
  return 0;
}
