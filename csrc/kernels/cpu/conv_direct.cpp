// Direct convolution kernels for one input channel per group (see conv_direct.h). Output
// channel o reads input channel o / (co / groups); the weight is [co, kh * kw].
#include "kernels/cpu/conv_direct.h"

#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/im2col.h"

namespace ranvier::cpu {

namespace {

int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, kGrainSize / std::max<int64_t>(work_per_item, 1));
}

}  // namespace

template <typename T>
void conv_direct_forward(const ConvGeom& g, const T* img, const T* wt, const T* bias, T* mat) {
  const int64_t cog = g.co / g.groups, kk = g.kh * g.kw, L = g.oh * g.ow, HW = g.h * g.w;
  parallel_for(0, g.n * g.co, grain_for(L * kk), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t n = p / g.co, o = p % g.co;
      const T* x = img + (n * g.ci + o / cog) * HW;
      const T* w = wt + o * kk;
      T* y = mat + p * L;
      std::fill(y, y + L, bias ? bias[o] : T(0));
      for (int64_t ki = 0; ki < g.kh; ++ki)
        for (int64_t kj = 0; kj < g.kw; ++kj) {
          const T wv = w[ki * g.kw + kj];
          const int64_t x0 = kj * g.dw - g.pw;
          int64_t lo, hi;
          valid_cols(x0, g.sw, g.ow, g.w, lo, hi);
          for (int64_t oi = 0; oi < g.oh; ++oi) {
            const int64_t yy = oi * g.sh - g.ph + ki * g.dh;
            if (yy < 0 || yy >= g.h) continue;
            const T* src = x + yy * g.w + x0;
            T* dst = y + oi * g.ow;
            if (g.sw == 1) {
              for (int64_t oj = lo; oj < hi; ++oj) dst[oj] += wv * src[oj];
            } else {
              for (int64_t oj = lo; oj < hi; ++oj) dst[oj] += wv * src[oj * g.sw];
            }
          }
        }
    }
  });
}

template <typename T>
void conv_direct_backward_data(const ConvGeom& g, const T* mat, const T* wt, const T* bias,
                               T* img) {
  const int64_t cog = g.co / g.groups, kk = g.kh * g.kw, L = g.oh * g.ow, HW = g.h * g.w;
  parallel_for(0, g.n * g.ci, grain_for(cog * L * kk + HW), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t n = p / g.ci, c = p % g.ci;
      T* x = img + p * HW;
      std::fill(x, x + HW, T(0));
      for (int64_t o = c * cog; o < (c + 1) * cog; ++o) {
        const T* m = mat + (n * g.co + o) * L;
        const T* w = wt + o * kk;
        for (int64_t ki = 0; ki < g.kh; ++ki)
          for (int64_t kj = 0; kj < g.kw; ++kj) {
            const T wv = w[ki * g.kw + kj];
            const int64_t x0 = kj * g.dw - g.pw;
            int64_t lo, hi;
            valid_cols(x0, g.sw, g.ow, g.w, lo, hi);
            for (int64_t oi = 0; oi < g.oh; ++oi) {
              const int64_t yy = oi * g.sh - g.ph + ki * g.dh;
              if (yy < 0 || yy >= g.h) continue;
              const T* src = m + oi * g.ow;
              T* dst = x + yy * g.w + x0;
              if (g.sw == 1) {
                for (int64_t oj = lo; oj < hi; ++oj) dst[oj] += wv * src[oj];
              } else {
                for (int64_t oj = lo; oj < hi; ++oj) dst[oj * g.sw] += wv * src[oj];
              }
            }
          }
      }
      if (bias) {
        const T bv = bias[c];
        for (int64_t i = 0; i < HW; ++i) x[i] += bv;
      }
    }
  });
}

// dw[o, k] = sum over (n, oi) in order of the row products, accumulated per output column oj
// (vectorisable), the columns summed last; one thread per weight row.
template <typename T>
void conv_direct_weight_grad(const ConvGeom& g, const T* img, const T* mat, T* dw) {
  const int64_t cog = g.co / g.groups, kk = g.kh * g.kw, L = g.oh * g.ow, HW = g.h * g.w;
  parallel_for(0, g.co, grain_for(g.n * L * kk), [&](int64_t b, int64_t e) {
    std::vector<T> acc(size_t(std::max<int64_t>(g.ow, 1)));
    for (int64_t o = b; o < e; ++o)
      for (int64_t ki = 0; ki < g.kh; ++ki)
        for (int64_t kj = 0; kj < g.kw; ++kj) {
          std::fill(acc.begin(), acc.end(), T(0));
          T* a = acc.data();
          const int64_t x0 = kj * g.dw - g.pw;
          int64_t lo, hi;
          valid_cols(x0, g.sw, g.ow, g.w, lo, hi);
          for (int64_t n = 0; n < g.n; ++n) {
            const T* x = img + (n * g.ci + o / cog) * HW;
            const T* m = mat + (n * g.co + o) * L;
            for (int64_t oi = 0; oi < g.oh; ++oi) {
              const int64_t yy = oi * g.sh - g.ph + ki * g.dh;
              if (yy < 0 || yy >= g.h) continue;
              const T* src = x + yy * g.w + x0;
              const T* gm = m + oi * g.ow;
              if (g.sw == 1) {
                for (int64_t oj = lo; oj < hi; ++oj) a[oj] += gm[oj] * src[oj];
              } else {
                for (int64_t oj = lo; oj < hi; ++oj) a[oj] += gm[oj] * src[oj * g.sw];
              }
            }
          }
          T total = T(0);
          for (int64_t oj = 0; oj < g.ow; ++oj) total += a[oj];
          dw[o * kk + ki * g.kw + kj] = total;
        }
  });
}

template void conv_direct_forward<float>(const ConvGeom&, const float*, const float*,
                                         const float*, float*);
template void conv_direct_forward<double>(const ConvGeom&, const double*, const double*,
                                          const double*, double*);
template void conv_direct_backward_data<float>(const ConvGeom&, const float*, const float*,
                                               const float*, float*);
template void conv_direct_backward_data<double>(const ConvGeom&, const double*, const double*,
                                                const double*, double*);
template void conv_direct_weight_grad<float>(const ConvGeom&, const float*, const float*,
                                             float*);
template void conv_direct_weight_grad<double>(const ConvGeom&, const double*, const double*,
                                              double*);

}  // namespace ranvier::cpu
