// CPU batch_norm and layer_norm kernels (see ops/norm.h). Statistics and parameter gradients
// accumulate in double, each serially in index order (thread-count independent).
// batch_norm backward (training), per channel with M = n * s, xh = (x - mean) * invstd:
//   gx = w * invstd * (g - sum(g) / M - xh * sum(g * xh) / M);   eval: gx = w * invstd * g
// layer_norm backward per row with K elements and dxh = g * w:
//   gx = invstd * (dxh - mean(dxh) - xh * mean(dxh * xh))
#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "ops/norm.h"

namespace ranvier::cpu {

namespace {

template <typename T>
void bn_forward(const NormSpec& p) {
  const T* x = static_cast<const T*>(p.x);
  const T* w = static_cast<const T*>(p.weight);
  const T* b = static_cast<const T*>(p.bias);
  T* mean = static_cast<T*>(p.mean);
  T* invstd = static_cast<T*>(p.invstd);
  const T* var_in = static_cast<const T*>(p.var_in);
  T* var_u = static_cast<T*>(p.var_unbiased);
  T* y = static_cast<T*>(p.y);
  const int64_t n = p.n, c = p.c, s = p.s, m = n * s;
  parallel_for(0, c, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(m, 1)),
               [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ++ch) {
      double mu, is;
      if (p.training) {
        double acc = 0;
        for (int64_t i = 0; i < n; ++i) {
          const T* xr = x + (i * c + ch) * s;
          for (int64_t j = 0; j < s; ++j) acc += double(xr[j]);
        }
        mu = acc / double(m);
        double sq = 0;
        for (int64_t i = 0; i < n; ++i) {
          const T* xr = x + (i * c + ch) * s;
          for (int64_t j = 0; j < s; ++j) {
            double d = double(xr[j]) - mu;
            sq += d * d;
          }
        }
        is = 1.0 / std::sqrt(sq / double(m) + p.eps);
        mean[ch] = T(mu);
        if (var_u) var_u[ch] = T(m > 1 ? sq / double(m - 1) : NAN);
      } else {
        mu = double(mean[ch]);
        is = 1.0 / std::sqrt(double(var_in[ch]) + p.eps);
      }
      invstd[ch] = T(is);
      double a = is * (w ? double(w[ch]) : 1.0);
      double sh = (b ? double(b[ch]) : 0.0) - mu * a;
      for (int64_t i = 0; i < n; ++i) {
        const T* xr = x + (i * c + ch) * s;
        T* yr = y + (i * c + ch) * s;
        for (int64_t j = 0; j < s; ++j) yr[j] = T(double(xr[j]) * a + sh);
      }
    }
  });
}

template <typename T>
void bn_backward(const NormSpec& p) {
  const T* x = static_cast<const T*>(p.x);
  const T* w = static_cast<const T*>(p.weight);
  const T* mean = static_cast<const T*>(p.mean);
  const T* invstd = static_cast<const T*>(p.invstd);
  const T* g = static_cast<const T*>(p.grad);
  T* gx = static_cast<T*>(p.grad_x);
  T* gw = static_cast<T*>(p.grad_w);
  T* gb = static_cast<T*>(p.grad_b);
  const int64_t n = p.n, c = p.c, s = p.s, m = n * s;
  parallel_for(0, c, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(m, 1)),
               [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ++ch) {
      const double mu = double(mean[ch]), is = double(invstd[ch]);
      double sg = 0, sgx = 0;
      for (int64_t i = 0; i < n; ++i) {
        const T* xr = x + (i * c + ch) * s;
        const T* gr = g + (i * c + ch) * s;
        for (int64_t j = 0; j < s; ++j) {
          sg += double(gr[j]);
          sgx += double(gr[j]) * (double(xr[j]) - mu) * is;
        }
      }
      if (gw) gw[ch] = T(sgx);
      if (gb) gb[ch] = T(sg);
      if (!gx) continue;
      const double a = is * (w ? double(w[ch]) : 1.0);
      for (int64_t i = 0; i < n; ++i) {
        const T* xr = x + (i * c + ch) * s;
        const T* gr = g + (i * c + ch) * s;
        T* out = gx + (i * c + ch) * s;
        for (int64_t j = 0; j < s; ++j) {
          if (p.training) {
            double xh = (double(xr[j]) - mu) * is;
            out[j] = T(a * (double(gr[j]) - sg / double(m) - xh * sgx / double(m)));
          } else {
            out[j] = T(a * double(gr[j]));
          }
        }
      }
    }
  });
}

template <typename T>
void ln_forward(const NormSpec& p) {
  const T* x = static_cast<const T*>(p.x);
  const T* w = static_cast<const T*>(p.weight);
  const T* b = static_cast<const T*>(p.bias);
  T* mean = static_cast<T*>(p.mean);
  T* invstd = static_cast<T*>(p.invstd);
  T* y = static_cast<T*>(p.y);
  const int64_t rows = p.n, k = p.c;
  parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(k, 1)),
               [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const T* xr = x + r * k;
      T* yr = y + r * k;
      double acc = 0;
      for (int64_t j = 0; j < k; ++j) acc += double(xr[j]);
      double mu = acc / double(k), sq = 0;
      for (int64_t j = 0; j < k; ++j) {
        double d = double(xr[j]) - mu;
        sq += d * d;
      }
      double is = 1.0 / std::sqrt(sq / double(k) + p.eps);
      mean[r] = T(mu);
      invstd[r] = T(is);
      for (int64_t j = 0; j < k; ++j) {
        double v = (double(xr[j]) - mu) * is;
        if (w) v *= double(w[j]);
        if (b) v += double(b[j]);
        yr[j] = T(v);
      }
    }
  });
}

template <typename T>
void ln_backward(const NormSpec& p) {
  const T* x = static_cast<const T*>(p.x);
  const T* w = static_cast<const T*>(p.weight);
  const T* mean = static_cast<const T*>(p.mean);
  const T* invstd = static_cast<const T*>(p.invstd);
  const T* g = static_cast<const T*>(p.grad);
  T* gx = static_cast<T*>(p.grad_x);
  T* gw = static_cast<T*>(p.grad_w);
  T* gb = static_cast<T*>(p.grad_b);
  const int64_t rows = p.n, k = p.c;
  if (gx) {
    parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(k, 1)),
                 [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        const T* xr = x + r * k;
        const T* gr = g + r * k;
        const double mu = double(mean[r]), is = double(invstd[r]);
        double s1 = 0, s2 = 0;
        for (int64_t j = 0; j < k; ++j) {
          double d = double(gr[j]) * (w ? double(w[j]) : 1.0);
          s1 += d;
          s2 += d * (double(xr[j]) - mu) * is;
        }
        s1 /= double(k);
        s2 /= double(k);
        for (int64_t j = 0; j < k; ++j) {
          double d = double(gr[j]) * (w ? double(w[j]) : 1.0);
          double xh = (double(xr[j]) - mu) * is;
          gx[r * k + j] = T(is * (d - s1 - xh * s2));
        }
      }
    });
  }
  if (gw || gb) {
    // Per column, rows summed in order.
    parallel_for(0, k, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(rows, 1)),
                 [&](int64_t cb, int64_t ce) {
      for (int64_t j = cb; j < ce; ++j) {
        double sw = 0, sb = 0;
        for (int64_t r = 0; r < rows; ++r) {
          double gv = double(g[r * k + j]);
          sb += gv;
          sw += gv * (double(x[r * k + j]) - double(mean[r])) * double(invstd[r]);
        }
        if (gw) gw[j] = T(sw);
        if (gb) gb[j] = T(sb);
      }
    });
  }
}

#define RV_NORM_ENTRY(name, fn)                       \
  void name(const NormSpec& s) {                      \
    if (s.dtype == DType::Float64) fn<double>(s);     \
    else fn<float>(s);                                \
  }
RV_NORM_ENTRY(bn_forward_cpu, bn_forward)
RV_NORM_ENTRY(bn_backward_cpu, bn_backward)
RV_NORM_ENTRY(ln_forward_cpu, ln_forward)
RV_NORM_ENTRY(ln_backward_cpu, ln_backward)
#undef RV_NORM_ENTRY

}  // namespace

void register_norm_cpu() {
  batch_norm_forward_kernel.set(DeviceType::CPU, &bn_forward_cpu);
  batch_norm_backward_kernel.set(DeviceType::CPU, &bn_backward_cpu);
  layer_norm_forward_kernel.set(DeviceType::CPU, &ln_forward_cpu);
  layer_norm_backward_kernel.set(DeviceType::CPU, &ln_backward_cpu);
}

}  // namespace ranvier::cpu
