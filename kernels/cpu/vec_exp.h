// e^x over a vector of floats, written once over a lane type L (the attention tiles' lane types:
// one __m512, one __m256, or two __m256). L provides: V, zero(), set1(x), fmadd(a, b, c) = a * b + c,
// mul, select_le(a, b, x, y) = a <= b ? x : y, round_nearest(v), ldexp(v, n) = v * 2^n for integral
// n in [-126, 127]. Include only from files compiled with AVX2 (or wider) flags.
#pragma once

namespace strata::cpu::detail {

// e^x for x <= 0 (scores minus their running max), within 2 ulp of std::exp; exactly 0 below -87
// (where e^x leaves the normal floats) and for -inf (masked keys). e^x = 2^n * e^r with
// n = round(x / ln 2) and |r| <= ln 2 / 2, ln 2 split in two so that n * ln2_hi is exact; e^r by
// its Taylor series to degree 7 (the next term is below 5e-9 relative).
template <class L>
static inline typename L::V exp_nonpositive(typename L::V x) {
  using V = typename L::V;
  const V n = L::round_nearest(L::mul(x, L::set1(1.44269504088896341f)));
  V r = L::fmadd(n, L::set1(-0.693359375f), x);
  r = L::fmadd(n, L::set1(2.12194440e-4f), r);
  V p = L::set1(1.0f / 5040);
  p = L::fmadd(p, r, L::set1(1.0f / 720));
  p = L::fmadd(p, r, L::set1(1.0f / 120));
  p = L::fmadd(p, r, L::set1(1.0f / 24));
  p = L::fmadd(p, r, L::set1(1.0f / 6));
  p = L::fmadd(p, r, L::set1(0.5f));
  p = L::fmadd(p, r, L::set1(1.0f));
  p = L::fmadd(p, r, L::set1(1.0f));
  return L::select_le(L::set1(-87.0f), x, L::ldexp(p, n), L::zero());
}

}  // namespace strata::cpu::detail
