// CPU kernels of the convolution family: im2col and col2im over contiguous [planes, h, w]
// images. Work is split by plane, so every output element is written by one thread in a fixed
// order and results do not depend on the thread count.
#include "core/parallel.h"
#include "ops/conv.h"

namespace ranvier::cpu {

namespace {

template <typename T>
void im2col_plane(const Im2ColSpec& s, const T* img, T* col) {
  const int64_t L = s.oh * s.ow;
  for (int64_t ki = 0; ki < s.kh; ++ki)
    for (int64_t kj = 0; kj < s.kw; ++kj) {
      T* row = col + (ki * s.kw + kj) * L;
      for (int64_t oi = 0; oi < s.oh; ++oi) {
        int64_t y = oi * s.sh - s.ph + ki * s.dh;
        T* dst = row + oi * s.ow;
        if (y < 0 || y >= s.h) {
          for (int64_t oj = 0; oj < s.ow; ++oj) dst[oj] = T(0);
          continue;
        }
        const T* src = img + y * s.w;
        int64_t x0 = kj * s.dw - s.pw;
        for (int64_t oj = 0; oj < s.ow; ++oj) {
          int64_t x = x0 + oj * s.sw;
          dst[oj] = (x >= 0 && x < s.w) ? src[x] : T(0);
        }
      }
    }
}

template <typename T>
void col2im_plane(const Im2ColSpec& s, const T* col, T* img) {
  const int64_t L = s.oh * s.ow;
  for (int64_t i = 0; i < s.h * s.w; ++i) img[i] = T(0);
  for (int64_t ki = 0; ki < s.kh; ++ki)
    for (int64_t kj = 0; kj < s.kw; ++kj) {
      const T* row = col + (ki * s.kw + kj) * L;
      for (int64_t oi = 0; oi < s.oh; ++oi) {
        int64_t y = oi * s.sh - s.ph + ki * s.dh;
        if (y < 0 || y >= s.h) continue;
        const T* src = row + oi * s.ow;
        T* dst = img + y * s.w;
        int64_t x0 = kj * s.dw - s.pw;
        for (int64_t oj = 0; oj < s.ow; ++oj) {
          int64_t x = x0 + oj * s.sw;
          if (x >= 0 && x < s.w) dst[x] += src[oj];
        }
      }
    }
}

int64_t plane_grain(const Im2ColSpec& s) {
  int64_t work = s.kh * s.kw * s.oh * s.ow + s.h * s.w;
  return work >= kGrainSize ? 1 : kGrainSize / (work > 0 ? work : 1);
}

void im2col_cpu(const Im2ColSpec& s, const char* img, char* col) {
  RV_DISPATCH_FLOAT(s.dtype, "im2col", [&] {
    const auto* in = reinterpret_cast<const scalar_t*>(img);
    auto* out = reinterpret_cast<scalar_t*>(col);
    const int64_t in_plane = s.h * s.w, out_plane = s.kh * s.kw * s.oh * s.ow;
    parallel_for(0, s.planes, plane_grain(s), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) im2col_plane(s, in + p * in_plane, out + p * out_plane);
    });
  });
}

void col2im_cpu(const Im2ColSpec& s, const char* col, char* img) {
  RV_DISPATCH_FLOAT(s.dtype, "col2im", [&] {
    const auto* in = reinterpret_cast<const scalar_t*>(col);
    auto* out = reinterpret_cast<scalar_t*>(img);
    const int64_t out_plane = s.h * s.w, in_plane = s.kh * s.kw * s.oh * s.ow;
    parallel_for(0, s.planes, plane_grain(s), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) col2im_plane(s, in + p * in_plane, out + p * out_plane);
    });
  });
}

}  // namespace

void register_conv_cpu() {
  im2col_kernel.set(DeviceType::CPU, &im2col_cpu);
  col2im_kernel.set(DeviceType::CPU, &col2im_cpu);
}

}  // namespace ranvier::cpu
