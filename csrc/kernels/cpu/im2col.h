// One plane of im2col / col2im (see ops/conv.h for the layout): shared by the im2col/col2im
// kernels (kernels/cpu/conv.cpp) and the fused convolution kernels (kernels/cpu/conv_gemm.cpp).
// Serial code: callers split work by plane or by sample, never inside one plane.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "ops/conv.h"

namespace ranvier::cpu {

// Output columns [lo, hi) whose input column x0 + oj * sw lies in [0, w).
inline void valid_cols(int64_t x0, int64_t sw, int64_t ow, int64_t w, int64_t& lo, int64_t& hi) {
  lo = x0 >= 0 ? 0 : (-x0 + sw - 1) / sw;
  hi = x0 >= w ? 0 : (w - 1 - x0) / sw + 1;
  lo = std::min(lo, ow);
  hi = std::min(hi, ow);
  if (hi < lo) hi = lo;
}

// img [h, w] -> col [kh*kw, oh*ow] (zeros where the window reads the padding); the rows of
// col are ld apart (ld = oh*ow when 0).
template <typename T>
void im2col_plane(const Im2ColSpec& s, const T* img, T* col, int64_t ld = 0) {
  const int64_t L = ld > 0 ? ld : s.oh * s.ow;
  for (int64_t ki = 0; ki < s.kh; ++ki)
    for (int64_t kj = 0; kj < s.kw; ++kj) {
      T* row = col + (ki * s.kw + kj) * L;
      const int64_t x0 = kj * s.dw - s.pw;
      int64_t lo, hi;
      valid_cols(x0, s.sw, s.ow, s.w, lo, hi);
      for (int64_t oi = 0; oi < s.oh; ++oi) {
        const int64_t y = oi * s.sh - s.ph + ki * s.dh;
        T* dst = row + oi * s.ow;
        if (y < 0 || y >= s.h) {
          std::fill(dst, dst + s.ow, T(0));
          continue;
        }
        const T* src = img + y * s.w + x0;
        std::fill(dst, dst + lo, T(0));
        if (s.sw == 1) {
          if (hi > lo) std::memcpy(dst + lo, src + lo, size_t(hi - lo) * sizeof(T));
        } else {
          for (int64_t oj = lo; oj < hi; ++oj) dst[oj] = src[oj * s.sw];
        }
        std::fill(dst + hi, dst + s.ow, T(0));
      }
    }
}

// col [kh*kw, oh*ow] -> img [h, w]: overwritten, overlapping entries summed in (ki, kj, oi, oj)
// order.
template <typename T>
void col2im_plane(const Im2ColSpec& s, const T* col, T* img) {
  const int64_t L = s.oh * s.ow;
  std::fill(img, img + s.h * s.w, T(0));
  for (int64_t ki = 0; ki < s.kh; ++ki)
    for (int64_t kj = 0; kj < s.kw; ++kj) {
      const T* row = col + (ki * s.kw + kj) * L;
      const int64_t x0 = kj * s.dw - s.pw;
      int64_t lo, hi;
      valid_cols(x0, s.sw, s.ow, s.w, lo, hi);
      for (int64_t oi = 0; oi < s.oh; ++oi) {
        const int64_t y = oi * s.sh - s.ph + ki * s.dh;
        if (y < 0 || y >= s.h) continue;
        const T* src = row + oi * s.ow;
        T* dst = img + y * s.w + x0;
        if (s.sw == 1) {
          for (int64_t oj = lo; oj < hi; ++oj) dst[oj] += src[oj];
        } else {
          for (int64_t oj = lo; oj < hi; ++oj) dst[oj * s.sw] += src[oj];
        }
      }
    }
}

}  // namespace ranvier::cpu
