// Rng: a small, fast, portable pseudo-random generator for sampling.
//
// xoshiro256** (Blackman & Vigna) with its state expanded from a 64-bit seed by splitmix64, as its
// authors recommend. Everything is defined here in terms of 64-bit integer arithmetic, so the same
// seed gives the same sequence with every compiler and standard library (unlike the
// <random> distributions, whose algorithms are implementation-defined).
#pragma once

#include <cstdint>

namespace strata {

class Rng {
 public:
  explicit Rng(uint64_t seed) noexcept { reseed(seed); }

  void reseed(uint64_t seed) noexcept {
    uint64_t x = seed;
    // splitmix64 maps its four distinct inputs to four distinct outputs, so at most one word is
    // zero and the state can never be the all-zero fixed point of xoshiro.
    for (uint64_t& s : s_) s = splitmix64(x);
  }

  // The next 64 random bits.
  uint64_t next() noexcept {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // A uniform double in [0, 1): the top 53 bits of next() scaled by 2^-53 (exact in binary64).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

  // Advances x by the golden-ratio increment and returns a well-mixed function of it.
  static uint64_t splitmix64(uint64_t& x) noexcept {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  uint64_t s_[4];
};

}  // namespace strata
