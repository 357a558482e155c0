// A main() for any libFuzzer-style target (LLVMFuzzerTestOneInput) when libFuzzer is not in use:
// runs every input of a seed corpus, then a bounded number of deterministic random mutations of
// each (bit flips, byte changes, truncations, insertions, deletions, copies, and little-endian
// integer fields overwritten with 0, 1, -1 and huge values).
//
//   replay [--mutations N] [--seed S] [--max-mutated-bytes B] PATH...
//   replay --dump FILE INDEX OUT       writes mutation INDEX of FILE (as a run with the same
//                                      --seed would make it) to OUT, to reproduce a finding
//
// PATHs are files or folders (every regular file inside, in name order). Inputs larger than
// --max-mutated-bytes (default 65536) get N/100 mutations (at least 10), so a large seed does not
// dominate the run. Exit status: 0 when every input ran, 2 on a usage or I/O error; a finding
// crashes the process, after the input that caused it is named on stderr.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Provided by the sanitizer runtimes when linked in: called before a sanitizer report exits.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

namespace fs = std::filesystem;

// What is running now, for the message printed when it crashes.
char g_current[4096] = "(none)";

void report_current() {
  const char prefix[] = "\nreplay: the failing input was ";
  [[maybe_unused]] auto r1 = ::write(2, prefix, sizeof prefix - 1);
  [[maybe_unused]] auto r2 = ::write(2, g_current, std::strlen(g_current));
  [[maybe_unused]] auto r3 = ::write(2, "\n", 1);
}

void on_signal(int sig) {
  report_current();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void set_current(const std::string& file, int64_t mutation, uint64_t seed) {
  if (mutation < 0)
    std::snprintf(g_current, sizeof g_current, "%s (as is)", file.c_str());
  else
    std::snprintf(g_current, sizeof g_current, "%s mutation %lld (--seed %llu; reproduce with --dump)", file.c_str(),
                  static_cast<long long>(mutation), static_cast<unsigned long long>(seed));
}

// splitmix64: small, fast, and the same everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0.
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t s_;
};

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void mutate_once(std::vector<uint8_t>& b, Rng& rng) {
  static constexpr uint64_t kInteresting[] = {
      0, 1, 2, 3, 4, 7, 8, 12, 13, 31, 32, 33, 64, 255, 256, 65535, 65536,
      0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x100000000ull, 1ull << 40, 1ull << 61, 1ull << 62,
      0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffe0ull, 0xffffffffffffffffull,
  };
  const size_t n = b.size();
  switch (rng.below(9)) {
    case 0:  // flip a bit
      if (n) b[rng.below(n)] ^= static_cast<uint8_t>(1u << rng.below(8));
      break;
    case 1:  // set a byte
      if (n) b[rng.below(n)] = static_cast<uint8_t>(rng.next());
      break;
    case 2:  // truncate
      if (n) b.resize(rng.below(n));
      break;
    case 3: {  // insert 1..16 random bytes
      const size_t at = rng.below(n + 1), k = 1 + rng.below(16);
      std::vector<uint8_t> ins(k);
      for (auto& x : ins) x = static_cast<uint8_t>(rng.next());
      b.insert(b.begin() + static_cast<ptrdiff_t>(at), ins.begin(), ins.end());
      break;
    }
    case 4: {  // delete a range
      if (!n) break;
      const size_t at = rng.below(n), k = 1 + rng.below(std::min<size_t>(n - at, 64));
      b.erase(b.begin() + static_cast<ptrdiff_t>(at), b.begin() + static_cast<ptrdiff_t>(at + k));
      break;
    }
    case 5: {  // copy a chunk over another place
      if (n < 2) break;
      const size_t from = rng.below(n), to = rng.below(n);
      const size_t k = 1 + rng.below(std::min<size_t>({n - from, n - to, 128}));
      std::memmove(b.data() + to, b.data() + from, k);
      break;
    }
    case 6:
    case 7: {  // overwrite a 4- or 8-byte little-endian integer field (often 8-aligned, like GGUF's)
      const size_t w = rng.below(2) ? 8 : 4;
      if (n < w) break;
      size_t at = rng.below(n - w + 1);
      if (rng.below(2)) at &= ~size_t{3};
      uint64_t v = kInteresting[rng.below(std::size(kInteresting))];
      if (rng.below(4) == 0) v += rng.below(5) - 2;  // off by a little
      std::memcpy(b.data() + at, &v, w);
      break;
    }
    case 8: {  // add or subtract a small amount to one byte
      if (n) b[rng.below(n)] += static_cast<uint8_t>(rng.below(33) - 16);
      break;
    }
  }
}

// Mutation `index` of `input`: a fresh generator per mutation, so any one can be rebuilt alone.
std::vector<uint8_t> make_mutation(const std::vector<uint8_t>& input, const std::string& name, uint64_t seed,
                                   uint64_t index) {
  Rng rng(seed ^ hash_name(name) ^ (index * 0x2545f4914f6cdd1dull));
  std::vector<uint8_t> b = input;
  const uint64_t rounds = 1 + rng.below(4);
  for (uint64_t r = 0; r < rounds; ++r) mutate_once(b, rng);
  return b;
}

bool read_file(const fs::path& p, std::vector<uint8_t>& out) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return false;
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return !f.bad();
}

void run_one(const std::vector<uint8_t>& b) {
  // A copy of exactly the input's size, so that reading past the end is caught by sanitizers.
  std::unique_ptr<uint8_t[]> exact(new uint8_t[b.size() ? b.size() : 1]);
  if (!b.empty()) std::memcpy(exact.get(), b.data(), b.size());
  LLVMFuzzerTestOneInput(exact.get(), b.size());
}

int usage() {
  std::fprintf(stderr,
               "usage: replay [--mutations N] [--seed S] [--max-mutated-bytes B] PATH...\n"
               "       replay [--seed S] --dump FILE INDEX OUT\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t mutations = 20000, seed = 1, max_mutated = 65536;
  std::vector<fs::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mutations" && i + 1 < argc) {
      mutations = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--max-mutated-bytes" && i + 1 < argc) {
      max_mutated = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--dump" && i + 3 < argc) {
      std::vector<uint8_t> in;
      const fs::path file = argv[i + 1];
      if (!read_file(file, in)) return std::fprintf(stderr, "replay: cannot read %s\n", file.c_str()), 2;
      const auto out = make_mutation(in, file.filename().string(), seed, std::strtoull(argv[i + 2], nullptr, 10));
      std::ofstream f(argv[i + 3], std::ios::binary);
      f.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
      return f ? 0 : 2;
    } else if (a.starts_with("--")) {
      return usage();
    } else {
      paths.emplace_back(a);
    }
  }
  if (paths.empty()) return usage();

  std::vector<fs::path> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> inside;
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file()) inside.push_back(e.path());
      std::sort(inside.begin(), inside.end());
      files.insert(files.end(), inside.begin(), inside.end());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "replay: %s is neither a file nor a folder\n", p.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "replay: no inputs\n");
    return 2;
  }

  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(report_current);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, on_signal);
  std::set_terminate([] {
    report_current();
    std::abort();
  });

  const auto start = std::chrono::steady_clock::now();
  uint64_t runs = 0;
  for (const auto& file : files) {
    std::vector<uint8_t> input;
    if (!read_file(file, input)) {
      std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
      return 2;
    }
    set_current(file.string(), -1, seed);
    run_one(input);
    ++runs;
    const uint64_t n = input.size() > max_mutated ? std::max<uint64_t>(mutations / 100, 10) : mutations;
    const std::string name = file.filename().string();
    for (uint64_t m = 0; m < n; ++m) {
      set_current(file.string(), static_cast<int64_t>(m), seed);
      run_one(make_mutation(input, name, seed, m));
      ++runs;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("replay: %zu inputs, %llu runs in %.1f s, no findings\n", files.size(),
              static_cast<unsigned long long>(runs), secs);
  return 0;
}
