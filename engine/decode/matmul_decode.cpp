// MatMul's decode path: one token against the rows of one or more matrices (products), each
// thread streaming its own share of the rows.
//
// Shares: each thread streams its own contiguous share of the rows, front to back. A thread that
// finishes its share takes what is left of the others', so one slowed down by the OS or a
// neighbour on the host no longer holds up the whole product. Measured against one call per fixed
// share (tg128, 2 threads, A/B in one session): Q4_K 31.9 -> 33.9 tokens/s, Q4_0 unchanged; a
// single dispatch counter over 64-row chunks, which interleaves the threads' rows, was 5-10%
// slower than the fixed shares.
//
// Calls: a thread takes half of what is left of a share at a time, and at least
// kDecodeChunkBytes: a few calls per share, while a thread that finishes early still finds part of
// a slowed one's share left to take. Fixed 64 KiB chunks were 2-7% slower than a quarter of what
// is left at least 64 KiB (tg128 Q4_0 and Q4_K, A/B alternating, 2 threads, Xeon); on the Zen 5 VM
// a half at least 256 KiB was faster again: tg128 Q4_0 92-97 -> 100-102 tokens/s (4 rounds
// alternating), Q4_K and Q8_0 level; 128 KiB minimum was slower, 512 KiB level.
//
// Streams: the kernels read four runs of rows side by side (row_quarters.h). Where a type has
// vec_dot_streams, a share is four streams, its quarters, for the whole product, and each call
// takes the next rows of all four: the streams and their prefetch run on from call to call as in
// one long call. Where it has only vec_dot_rows, each call reads its own rows by quarters, and
// every call starts four streams anew, which costs about a microsecond a call (2.25 MiB Q4_0
// matrices in a loop of products, 2 threads: 55 GB/s with calls by quarters, 59.6 with streams,
// 59.5 with one call per share). tg128 Q4_0, 2 threads, Zen 5 VM, 10 rounds alternating: +0.4 to
// +6.6% in every round, +3.7% on average (92-96 -> 95-100 tokens/s).
//
// Several matrices (products) are one run of rows: shares are cut across them, and a call never
// crosses from one matrix into the next (in none of its four streams).
#include <algorithm>
#include <atomic>
#include <memory>

#include "engine/decode/matmul.h"
#include "engine/threads/thread_pool.h"
#include "kernels/cpu/kernels.h"

namespace strata {

void MatMul::set_up_shares(std::span<const Product> products, int threads) {
  first_rows_.resize(products.size() + 1);
  first_rows_[0] = 0;
  for (size_t i = 0; i < products.size(); ++i) first_rows_[i + 1] = first_rows_[i] + products[i].w->rows();
  const int64_t n_out = first_rows_.back();
  if (n_shares_ < threads) {
    shares_ = std::make_unique<Share[]>(static_cast<size_t>(threads));
    n_shares_ = threads;
  }
  // Share edges on multiples of 4 rows, as the multi-row kernels take them.
  for (int t = 0; t < threads; ++t) {
    shares_[t].begin = n_out * t / threads / 4 * 4;
    shares_[t].end = t + 1 == threads ? n_out : n_out * (t + 1) / threads / 4 * 4;
  }
}

size_t MatMul::product_of(int64_t row) const {
  size_t m = 0;
  while (first_rows_[m + 1] <= row) ++m;
  return m;
}

void MatMul::run_decode(const cpu::TypeKernels& k, std::span<const Product> products, const uint8_t* xq,
                        ThreadPool& pool) {
  set_up_shares(products, pool.size());
  if (k.vec_dot_streams != nullptr)
    run_decode_streams(k.vec_dot_streams, k.vec_dot_rows, products, xq, pool);
  else
    run_decode_rows(k.vec_dot_rows, products, xq, pool);
}

void MatMul::run_decode_rows(VecDotRows vec_dot_rows, std::span<const Product> products, const uint8_t* xq,
                             ThreadPool& pool) {
  const int64_t n_in = products[0].w->cols();
  const uint64_t rb = products[0].w->row_bytes();
  for (int t = 0; t < pool.size(); ++t) shares_[t].next.store(shares_[t].begin, std::memory_order_relaxed);
  const int64_t min_rows = std::max<int64_t>(4, static_cast<int64_t>(kDecodeChunkBytes / rb) / 4 * 4);
  // pool.run publishes the shares to the workers, and its completion orders their writes of y.
  pool.run([&](int ith, int n) {
    for (int j = 0; j < n; ++j) {
      Share& s = shares_[(ith + j) % n];  // its own first, then the others'
      int64_t begin = s.next.load(std::memory_order_relaxed);
      while (begin < s.end) {
        const size_t m = product_of(begin);
        const int64_t left = s.end - begin;
        const int64_t take = std::min({left, first_rows_[m + 1] - begin, std::max(min_rows, left / 2 / 4 * 4)});
        if (!s.next.compare_exchange_weak(begin, begin + take, std::memory_order_relaxed)) continue;
        const int64_t row = begin - first_rows_[m];
        vec_dot_rows(n_in, products[m].w->data + row * rb, rb, xq, products[m].y + row, take);
        begin = s.next.load(std::memory_order_relaxed);
      }
    }
  });
}

// Share progress is counted in steps of the four streams: stream q of a share of 4L (+ up to 3)
// rows is rows [begin + qL, begin + (q + 1)L); next = the steps taken, and L + 1 once the rows past
// the four streams are taken too.
void MatMul::run_decode_streams(VecDotStreams vec_dot_streams, VecDotRows vec_dot_rows,
                                std::span<const Product> products, const uint8_t* xq, ThreadPool& pool) {
  const int64_t n_in = products[0].w->cols();
  const uint64_t rb = products[0].w->row_bytes();
  for (int t = 0; t < pool.size(); ++t) shares_[t].next.store(0, std::memory_order_relaxed);
  const int64_t min_steps = std::max<int64_t>(1, static_cast<int64_t>(kDecodeChunkBytes / rb) / 4);
  pool.run([&](int ith, int n) {
    for (int j = 0; j < n; ++j) {
      Share& s = shares_[(ith + j) % n];  // its own first, then the others'
      const int64_t L = (s.end - s.begin) / 4;
      int64_t done = s.next.load(std::memory_order_relaxed);
      while (done < L) {
        int64_t take = std::min(L - done, std::max(min_steps, (L - done) / 2));
        size_t m[4];
        for (int q = 0; q < 4; ++q) {
          const int64_t row = s.begin + q * L + done;
          m[q] = product_of(row);
          take = std::min(take, first_rows_[m[q] + 1] - row);
        }
        if (!s.next.compare_exchange_weak(done, done + take, std::memory_order_relaxed)) continue;
        const void* w[4];
        float* out[4];
        for (int q = 0; q < 4; ++q) {
          const int64_t row = s.begin + q * L + done - first_rows_[m[q]];
          w[q] = products[m[q]].w->data + row * rb;
          out[q] = products[m[q]].y + row;
        }
        vec_dot_streams(n_in, w, rb, xq, out, take);
        done = s.next.load(std::memory_order_relaxed);
      }
      // The rows past the four streams (fewer than four), by whoever claims them first.
      int64_t all_steps = L;
      if (s.begin + 4 * L < s.end && s.next.compare_exchange_strong(all_steps, L + 1, std::memory_order_relaxed)) {
        for (int64_t r = s.begin + 4 * L; r < s.end; ++r) {
          const size_t p = product_of(r);
          const int64_t row = r - first_rows_[p];
          vec_dot_rows(n_in, products[p].w->data + row * rb, rb, xq, products[p].y + row, 1);
        }
      }
    }
  });
}

}  // namespace strata
