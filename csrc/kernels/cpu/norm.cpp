// CPU batch_norm and layer_norm kernels (see ops/norm.h). Statistics and parameter gradients
// accumulate in double in an order fixed by the shapes (thread-count independent): batch_norm
// serially in index order; layer_norm's row sums as eight interleaved partial sums (lane_sum,
// which vectorises) and its parameter gradients serially over the rows, all columns at once.
// layer_norm's float rows run in AVX-512 / baseline copies (RV_MULTIVERSION) and, on AVX2 CPUs,
// as intrinsics (norm_avx2.cpp), so their last bits can differ between CPU kinds (FMA
// contraction, the order of the input gradient's products), never between thread counts.
// batch_norm backward (training), per channel with M = n * s, xh = (x - mean) * invstd:
//   gx = w * invstd * (g - sum(g) / M - xh * sum(g * xh) / M);   eval: gx = w * invstd * g
// layer_norm backward per row with K elements and dxh = g * w:
//   gx = invstd * (dxh - mean(dxh) - xh * mean(dxh * xh))
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/parallel.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/norm_avx2.h"
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

// sum_{j < k} f(j) in double as eight partial sums, element j into lane j % 8, added in a fixed
// tree at the end: independent chains the compiler turns into vector adds, in an order that
// depends on k only.
template <typename F>
RV_ALWAYS_INLINE double lane_sum(int64_t k, const F& f) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= k; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += f(j + l);
  for (int l = 0; j < k; ++j, ++l) acc[l] += f(j);
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// Rows [rb, re) of layer_norm's forward: statistics in double, then (x - mean) * invstd (* w)
// (+ b) in T with the statistics rounded to T, as the gradient formulas see them. kW / kB:
// whether there is a weight / bias (compile-time, so that every case vectorises).
template <typename T, bool kW, bool kB>
RV_ALWAYS_INLINE void ln_forward_rows(const NormSpec& p, int64_t rb, int64_t re) {
  const T* x = static_cast<const T*>(p.x);
  const T* w = static_cast<const T*>(p.weight);
  const T* b = static_cast<const T*>(p.bias);
  T* mean = static_cast<T*>(p.mean);
  T* invstd = static_cast<T*>(p.invstd);
  T* y = static_cast<T*>(p.y);
  const int64_t k = p.c;
  for (int64_t r = rb; r < re; ++r) {
    const T* xr = x + r * k;
    T* yr = y + r * k;
    const double mu = lane_sum(k, [&](int64_t j) { return double(xr[j]); }) / double(k);
    const double sq = lane_sum(k, [&](int64_t j) {
      double d = double(xr[j]) - mu;
      return d * d;
    });
    const double is = 1.0 / std::sqrt(sq / double(k) + p.eps);
    mean[r] = T(mu);
    invstd[r] = T(is);
    const T mu_t = T(mu), is_t = T(is);
    for (int64_t j = 0; j < k; ++j) {
      T v = (xr[j] - mu_t) * is_t;
      if constexpr (kW) v = v * w[j];
      if constexpr (kB) v = v + b[j];
      yr[j] = v;
    }
  }
}

template <typename T>
RV_ALWAYS_INLINE void ln_forward_rows_any(const NormSpec& p, int64_t rb, int64_t re) {
  if (p.weight && p.bias)
    ln_forward_rows<T, true, true>(p, rb, re);
  else if (p.weight)
    ln_forward_rows<T, true, false>(p, rb, re);
  else if (p.bias)
    ln_forward_rows<T, false, true>(p, rb, re);
  else
    ln_forward_rows<T, false, false>(p, rb, re);
}

// The float rows in AVX-512 / AVX2 / baseline copies chosen at load time.
RV_MULTIVERSION void ln_forward_rows_f(const NormSpec& p, int64_t rb, int64_t re) {
  ln_forward_rows_any<float>(p, rb, re);
}

template <typename T>
void ln_forward(const NormSpec& p) {
  const bool avx2 = std::is_same_v<T, float> && layer_norm_avx2_usable();
  parallel_for(0, p.n, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(p.c, 1)),
               [&](int64_t rb, int64_t re) {
    if constexpr (std::is_same_v<T, float>)
      avx2 ? ln_forward_rows_avx2(p, rb, re) : ln_forward_rows_f(p, rb, re);
    else
      ln_forward_rows_any<T>(p, rb, re);
  });
}

// Rows [rb, re) of layer_norm's input gradient; kW: whether there is a weight (compile-time so
// that the loops vectorise).
template <typename T, bool kW>
RV_ALWAYS_INLINE void ln_grad_x_rows(const NormSpec& p, int64_t rb, int64_t re) {
  const T* x = static_cast<const T*>(p.x);
  const T* w = static_cast<const T*>(p.weight);
  const T* mean = static_cast<const T*>(p.mean);
  const T* invstd = static_cast<const T*>(p.invstd);
  const T* g = static_cast<const T*>(p.grad);
  T* gx = static_cast<T*>(p.grad_x);
  const int64_t k = p.c;
  for (int64_t r = rb; r < re; ++r) {
    const T* xr = x + r * k;
    const T* gr = g + r * k;
    const double mu = double(mean[r]), is = double(invstd[r]);
    auto dxh = [&](int64_t j) {
      if constexpr (kW)
        return double(gr[j]) * double(w[j]);
      else
        return double(gr[j]);
    };
    const double s1 = lane_sum(k, dxh) / double(k);
    const double s2 = lane_sum(k, [&](int64_t j) { return dxh(j) * (double(xr[j]) - mu) * is; }) /
                      double(k);
    // The elementwise pass in T, with the row's sums rounded to T.
    const T mu_t = T(mu), is_t = T(is), s1_t = T(s1), s2_t = T(s2);
    T* gxr = gx + r * k;
    for (int64_t j = 0; j < k; ++j) {
      const T d = kW ? gr[j] * w[j] : gr[j];
      gxr[j] = is_t * (d - s1_t - (xr[j] - mu_t) * is_t * s2_t);
    }
  }
}

RV_MULTIVERSION void ln_grad_x_rows_f(const NormSpec& p, int64_t rb, int64_t re) {
  if (p.weight)
    ln_grad_x_rows<float, true>(p, rb, re);
  else
    ln_grad_x_rows<float, false>(p, rb, re);
}

// layer_norm's weight and bias gradients for column blocks [bb, be) of kLnCols columns: per
// column the rows are summed in order; a block of columns walks the rows together (row-major
// reads, one accumulator per column). 32 columns keep the 64 double accumulators in AVX2
// registers; 64 spilled them ([1024, 128] forward + backward on one thread: 8 columns 292 us,
// 16 256, 32 243, 64 325).
constexpr int64_t kLnCols = 32;
template <typename T>
RV_ALWAYS_INLINE void ln_param_grad_blocks(const NormSpec& p, int64_t bb, int64_t be) {
  const T* x = static_cast<const T*>(p.x);
  const T* mean = static_cast<const T*>(p.mean);
  const T* invstd = static_cast<const T*>(p.invstd);
  const T* g = static_cast<const T*>(p.grad);
  T* gw = static_cast<T*>(p.grad_w);
  T* gb = static_cast<T*>(p.grad_b);
  const int64_t rows = p.n, k = p.c;
  double sw[kLnCols], sb[kLnCols];
  for (int64_t blk = bb; blk < be; ++blk) {
    const int64_t j0 = blk * kLnCols, nc = std::min(kLnCols, k - j0);
    std::fill(sw, sw + nc, 0.0);
    std::fill(sb, sb + nc, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const T* gr = g + r * k + j0;
      const T* xr = x + r * k + j0;
      const double mu = double(mean[r]), is = double(invstd[r]);
      for (int64_t c = 0; c < nc; ++c) {
        double gv = double(gr[c]);
        sb[c] += gv;
        sw[c] += gv * (double(xr[c]) - mu) * is;
      }
    }
    for (int64_t c = 0; c < nc; ++c) {
      if (gw) gw[j0 + c] = T(sw[c]);
      if (gb) gb[j0 + c] = T(sb[c]);
    }
  }
}

RV_MULTIVERSION void ln_param_grad_blocks_f(const NormSpec& p, int64_t bb, int64_t be) {
  ln_param_grad_blocks<float>(p, bb, be);
}

template <typename T>
void ln_backward(const NormSpec& p) {
  const int64_t rows = p.n, k = p.c;
  if (p.grad_x) {
    const bool avx2 = std::is_same_v<T, float> && layer_norm_avx2_usable();
    parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(k, 1)),
                 [&](int64_t rb, int64_t re) {
      if constexpr (std::is_same_v<T, float>)
        avx2 ? ln_grad_x_rows_avx2(p, rb, re) : ln_grad_x_rows_f(p, rb, re);
      else if (p.weight)
        ln_grad_x_rows<T, true>(p, rb, re);
      else
        ln_grad_x_rows<T, false>(p, rb, re);
    });
  }
  if (p.grad_w || p.grad_b) {
    const int64_t blocks = (k + kLnCols - 1) / kLnCols;
    parallel_for(0, blocks, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(rows * kLnCols, 1)),
                 [&](int64_t bb, int64_t be) {
      if constexpr (std::is_same_v<T, float>)
        ln_param_grad_blocks_f(p, bb, be);
      else
        ln_param_grad_blocks<T>(p, bb, be);
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
