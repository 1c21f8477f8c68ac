// Index math of the CUDA im2col / col2im kernels (kernels/cuda/conv.cu), host/device functions
// checked on the host against kernels/cpu/im2col.h by csrc/cuda/test/conv_math_test.cu.
// Layout (ops/conv.h): img [planes, h, w]; col [planes, kh*kw, oh*ow].
#pragma once
#include <cstdint>

#include "ops/conv.h"

namespace ranvier::cuda {

// im2col: the image offset read by column element e, or -1 where the window reads padding.
__host__ __device__ inline int64_t im2col_source(const Im2ColSpec& s, int64_t e) {
  const int64_t L = s.oh * s.ow, kk = s.kh * s.kw;
  const int64_t pos = e % L;
  const int64_t r = (e / L) % kk;
  const int64_t p = e / (L * kk);
  const int64_t ki = r / s.kw, kj = r % s.kw;
  const int64_t oi = pos / s.ow, oj = pos % s.ow;
  const int64_t y = oi * s.sh - s.ph + ki * s.dh;
  const int64_t x = oj * s.sw - s.pw + kj * s.dw;
  if (y < 0 || y >= s.h || x < 0 || x >= s.w) return -1;
  return (p * s.h + y) * s.w + x;
}

// col2im as a gather: image element e (plane p, row y, column x) is the sum of the column
// entries that read it, visited in (ki, kj) order (each (ki, kj) has at most one window
// position), the order in which the CPU kernel adds them: the same sum, bit for bit.
// Calls f(column offset) for each such entry.
template <typename F>
__host__ __device__ inline void col2im_sources(const Im2ColSpec& s, int64_t e, F&& f) {
  const int64_t L = s.oh * s.ow, kk = s.kh * s.kw;
  const int64_t x = e % s.w;
  const int64_t y = (e / s.w) % s.h;
  const int64_t p = e / (s.w * s.h);
  for (int64_t ki = 0; ki < s.kh; ++ki) {
    const int64_t ty = y + s.ph - ki * s.dh;  // = oi * sh
    if (ty < 0 || ty % s.sh != 0) continue;
    const int64_t oi = ty / s.sh;
    if (oi >= s.oh) continue;
    for (int64_t kj = 0; kj < s.kw; ++kj) {
      const int64_t tx = x + s.pw - kj * s.dw;
      if (tx < 0 || tx % s.sw != 0) continue;
      const int64_t oj = tx / s.sw;
      if (oj >= s.ow) continue;
      f(((p * kk) + ki * s.kw + kj) * L + oi * s.ow + oj);
    }
  }
}

}  // namespace ranvier::cuda
