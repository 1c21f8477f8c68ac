// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// counter-based generator. Output block c of key k is a pure function of (k, c), so element i
// of a request can be computed by any thread: random numbers do not depend on the thread count
// or the device. Shared by CPU and CUDA kernels.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/macros.h"

namespace ranvier {

struct Philox4 {
  uint32_t v[4];
};

RV_HOST_DEVICE RV_INLINE void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = uint64_t(a) * uint64_t(b);
  hi = uint32_t(p >> 32);
  lo = uint32_t(p);
}

// One 128-bit block: key from the seed, counter from the block index.
RV_HOST_DEVICE RV_INLINE Philox4 philox4x32_10(uint64_t seed, uint64_t block) {
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  uint32_t c0 = uint32_t(block), c1 = uint32_t(block >> 32), c2 = 0, c3 = 0;
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, c0, hi0, lo0);
    philox_mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) from 24 random bits (float) or 53 bits (double).
RV_HOST_DEVICE RV_INLINE float uniform_float(uint32_t x) { return float(x >> 8) * 5.9604644775390625e-08f; }
RV_HOST_DEVICE RV_INLINE double uniform_double(uint32_t hi, uint32_t lo) {
  uint64_t bits = (uint64_t(hi) << 21) ^ uint64_t(lo >> 11);
  return double(bits & ((uint64_t(1) << 53) - 1)) * 1.1102230246251565e-16;
}

}  // namespace ranvier
