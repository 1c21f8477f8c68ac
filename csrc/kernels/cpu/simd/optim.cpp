// CPU kernels of the fused optimizer steps (ops/optim.h). The tensors of a group are walked as
// one logical array (OptimSpec::offsets) split into contiguous chunks across OpenMP threads, so
// a group of many small parameters and one big parameter both keep every thread busy. Every
// element is updated independently: results do not depend on the thread count. The order of
// the elementwise operations follows PyTorch's reference (single-tensor) loops, so that float32
// results agree with PyTorch's to round-off. Compiled once per SIMD level (simd_level.h) and
// without FMA contraction (CMakeLists.txt), so the levels give the same bits: the steps are
// memory- and divider-bound, and the AVX2 copy's wider square roots and divisions halve Adam's
// time (Note [Optimizer steps per SIMD level]).
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/dtype.h"
#include "core/parallel.h"
#include "kernels/cpu/simd/simd_level.h"
#include "ops/optim.h"

namespace ranvier::cpu::RV_SIMD_NS {

namespace {

constexpr int64_t kOptimGrain = 16384;

// Calls f(tensor index, begin, end) over element ranges of the concatenated tensors.
template <typename F>
void for_ranges(const OptimSpec& s, const F& f) {
  const std::vector<int64_t>& off = s.offsets;
  int64_t total = off.back();
  parallel_for(0, total, kOptimGrain, [&](int64_t b, int64_t e) {
    size_t t = size_t(std::upper_bound(off.begin(), off.end(), b) - off.begin()) - 1;
    while (b < e && t + 1 < off.size()) {
      int64_t te = std::min(e, off[t + 1]);
      if (te > b) f(t, b - off[t], te - off[t]);
      b = std::max(b, te);
      ++t;
    }
  });
}

// PyTorch's lerp: start + w * (end - start), computed from the nearer end.
template <typename T>
inline T lerp(T a, T b, T w) {
  return std::abs(w) < T(0.5) ? a + w * (b - a) : b - (b - a) * (T(1) - w);
}
// The same with the end chosen at compile time (kLow: |w| < 0.5), for branch-free loops.
template <bool kLow, typename T>
inline T lerp_from(T a, T b, T w) {
  if constexpr (kLow)
    return a + w * (b - a);
  else
    return b - (b - a) * (T(1) - w);
}

template <typename T>
struct Ptrs {
  T* p;
  const T* g;
  T* s0;
  T* s1;
  T* s2;
};
template <typename T>
Ptrs<T> ptrs(const OptimSpec& s, size_t t) {
  auto st = [&](int k) { return s.state[k].empty() ? nullptr : static_cast<T*>(s.state[k][t]); };
  return {static_cast<T*>(s.param[t]), static_cast<const T*>(s.grad[t]), st(0), st(1), st(2)};
}

// Calls f(std::bool_constant<b0>{}, std::bool_constant<b1>{}, ...) for the runtime flags, so
// that a kernel's inner loop is compiled once per combination with no branch inside (and
// vectorises).
template <typename F>
void with_flags(F&& f) {
  f();
}
template <typename F, typename... Rest>
void with_flags(F&& f, bool first, Rest... rest) {
  if (first)
    with_flags([&](auto... c) { f(std::true_type{}, c...); }, rest...);
  else
    with_flags([&](auto... c) { f(std::false_type{}, c...); }, rest...);
}

// What Adam, NAdam and RAdam share (spec: h[0] lr, h[1] beta1, h[2] beta2, h[4] weight
// decay; b[1] maximize, b[2] decoupled): the gradient's sign, weight decay (L2 into g or
// decoupled into p), and both moment updates, written back to state 0 and 1.
template <typename T>
struct AdamMoments {
  T b1w, b2, b2w, wd, decay;
  bool maximize, decoupled, has_wd;
  explicit AdamMoments(const OptimSpec& s)
      : b1w(T(1.0 - s.h[1])), b2(T(s.h[2])), b2w(T(1.0 - s.h[2])), wd(T(s.h[4])),
        decay(T(1.0 - s.h[0] * s.h[4])), maximize(s.b[1]), decoupled(s.b[2]),
        has_wd(s.h[4] != 0.0) {}
  template <bool kMax, bool kWd, bool kDec, bool kLow>
  inline void step(const Ptrs<T>& q, int64_t j, T& g, T& p, T& m, T& v) const {
    g = kMax ? -q.g[j] : q.g[j];
    p = q.p[j];
    if constexpr (kWd) {
      if constexpr (kDec)
        p = p * decay;
      else
        g = g + wd * p;
    }
    m = lerp_from<kLow>(q.s0[j], g, b1w);
    v = q.s1[j] * b2 + b2w * g * g;
    q.s0[j] = m;
    q.s1[j] = v;
  }
};

// Runs body(q, t, b, e, moments) over the ranges of for_ranges, where moments(q, j, g, p, m, v)
// is AdamMoments::step with the group's flags fixed at compile time (branch-free loops).
template <typename T, typename Body>
void for_adam_ranges(const OptimSpec& s, const Body& body) {
  const AdamMoments<T> k(s);
  with_flags(
      [&](auto mx, auto w, auto dec, auto low) {
        // k by value: its constants are then locals of the loop, which stores through the
        // state pointers cannot change (so they stay in registers and the loop vectorises).
        auto moments = [k, mx, w, dec, low](const Ptrs<T>& q, int64_t j, T& g, T& p, T& m,
                                            T& v) {
          k.template step<decltype(mx)::value, decltype(w)::value, decltype(dec)::value,
                          decltype(low)::value>(q, j, g, p, m, v);
        };
        for_ranges(s, [&](size_t t, int64_t b, int64_t e) {
          body(ptrs<T>(s, t), t, b, e, moments);
        });
      },
      k.maximize, k.has_wd, k.decoupled, std::abs(k.b1w) < T(0.5));
}

// One SGD update of n elements: the flags are compile-time so the loop has no branches.
template <typename T, bool kMax, bool kWd, bool kMom, bool kFresh, bool kNest>
void sgd_span(T* p, const T* g_in, T* buf, int64_t n, T lr, T mom, T damp1, T wd) {
  for (int64_t j = 0; j < n; ++j) {
    T g = kMax ? -g_in[j] : g_in[j];
    if constexpr (kWd) g = g + wd * p[j];
    if constexpr (kMom) {
      T b = kFresh ? g : buf[j] * mom + damp1 * g;
      buf[j] = b;
      g = kNest ? g + mom * b : b;
    }
    p[j] = p[j] + (-lr) * g;
  }
}

template <typename T>
void sgd_impl(const OptimSpec& s) {
  const T lr = T(s.h[0]), mom = T(s.h[1]), damp1 = T(1.0 - s.h[2]), wd = T(s.h[3]);
  const bool nesterov = s.b[0], maximize = s.b[1], use_mom = s.b[2], has_wd = s.h[3] != 0.0;
  for_ranges(s, [&](size_t t, int64_t b, int64_t e) {
    Ptrs<T> q = ptrs<T>(s, t);
    const bool fresh = s.flag[t] != 0;
    with_flags(
        [&](auto mx, auto w, auto m, auto f, auto nv) {
          sgd_span<T, mx, w, m, f, nv>(q.p + b, q.g + b, m ? q.s0 + b : nullptr, e - b, lr,
                                       mom, damp1, wd);
        },
        maximize, has_wd, use_mom, fresh, nesterov);
  });
}

template <typename T>
void adam_impl(const OptimSpec& s) {
  const T eps = T(s.h[3]);
  with_flags(
      [&](auto ams) {
        for_adam_ranges<T>(s, [&](Ptrs<T> q, size_t t, int64_t b, int64_t e,
                                  auto moments) {
          const T neg_step = T(-s.coef[0][t]), bc2_sqrt = T(s.coef[1][t]);
          for (int64_t j = b; j < e; ++j) {
            T g, p, m, v;
            moments(q, j, g, p, m, v);
            if constexpr (ams) {
              v = std::max(q.s2[j], v);
              q.s2[j] = v;
            }
            T denom = std::sqrt(v) / bc2_sqrt + eps;
            q.p[j] = p + neg_step * (m / denom);
          }
        });
      },
      s.b[0]);
}

template <typename T>
void rmsprop_impl(const OptimSpec& s) {
  const T lr = T(s.h[0]), alpha = T(s.h[1]), aw = T(1.0 - s.h[1]), eps = T(s.h[2]);
  const T wd = T(s.h[3]), mom = T(s.h[4]);
  const bool centered = s.b[0], maximize = s.b[1], use_mom = s.b[2], has_wd = s.h[3] != 0.0;
  for_ranges(s, [&](size_t t, int64_t b, int64_t e) {
    Ptrs<T> q = ptrs<T>(s, t);
    for (int64_t j = b; j < e; ++j) {
      T g = maximize ? -q.g[j] : q.g[j];
      if (has_wd) g = g + wd * q.p[j];
      T sq = q.s0[j] * alpha + aw * g * g;
      q.s0[j] = sq;
      T avg;
      if (centered) {
        T ga = lerp(q.s1[j], g, aw);
        q.s1[j] = ga;
        avg = std::sqrt(sq + T(-1) * ga * ga);
      } else {
        avg = std::sqrt(sq);
      }
      avg = avg + eps;
      if (use_mom) {
        T buf = q.s2[j] * mom + g / avg;
        q.s2[j] = buf;
        q.p[j] = q.p[j] + (-lr) * buf;
      } else {
        q.p[j] = q.p[j] + (-lr) * (g / avg);
      }
    }
  });
}

template <typename T>
void adagrad_impl(const OptimSpec& s) {
  const T wd = T(s.h[0]), eps = T(s.h[1]);
  const bool maximize = s.b[1], has_wd = s.h[0] != 0.0;
  for_ranges(s, [&](size_t t, int64_t b, int64_t e) {
    Ptrs<T> q = ptrs<T>(s, t);
    const T neg_clr = T(-s.coef[0][t]);
    for (int64_t j = b; j < e; ++j) {
      T g = maximize ? -q.g[j] : q.g[j];
      if (has_wd) g = g + wd * q.p[j];
      T sum = q.s0[j] + g * g;
      q.s0[j] = sum;
      T std_ = std::sqrt(sum) + eps;
      q.p[j] = q.p[j] + neg_clr * (g / std_);
    }
  });
}

template <typename T>
void adadelta_impl(const OptimSpec& s) {
  const T lr = T(s.h[0]), rho = T(s.h[1]), rw = T(1.0 - s.h[1]), eps = T(s.h[2]);
  const T wd = T(s.h[3]);
  const bool maximize = s.b[1], has_wd = s.h[3] != 0.0;
  for_ranges(s, [&](size_t t, int64_t b, int64_t e) {
    Ptrs<T> q = ptrs<T>(s, t);
    for (int64_t j = b; j < e; ++j) {
      T g = maximize ? -q.g[j] : q.g[j];
      if (has_wd) g = g + wd * q.p[j];
      T sq = q.s0[j] * rho + rw * g * g;
      q.s0[j] = sq;
      T std_ = std::sqrt(sq + eps);
      T delta = std::sqrt(q.s1[j] + eps) / std_ * g;
      q.s1[j] = q.s1[j] * rho + rw * delta * delta;
      q.p[j] = q.p[j] + (-lr) * delta;
    }
  });
}

template <typename T>
void adamax_impl(const OptimSpec& s) {
  const T b1w = T(1.0 - s.h[0]), b2 = T(s.h[1]), eps = T(s.h[2]), wd = T(s.h[3]);
  const bool maximize = s.b[1], has_wd = s.h[3] != 0.0;
  for_ranges(s, [&](size_t t, int64_t b, int64_t e) {
    Ptrs<T> q = ptrs<T>(s, t);
    const T neg_clr = T(-s.coef[0][t]);
    for (int64_t j = b; j < e; ++j) {
      T g = maximize ? -q.g[j] : q.g[j];
      if (has_wd) g = g + wd * q.p[j];
      T m = lerp(q.s0[j], g, b1w);
      q.s0[j] = m;
      T a = q.s1[j] * b2, c = std::abs(g) + eps;
      T u = (std::isnan(a) || a > c) ? a : c;  // maximum, NaN-propagating
      q.s1[j] = u;
      q.p[j] = q.p[j] + neg_clr * (m / u);
    }
  });
}

template <typename T>
void nadam_impl(const OptimSpec& s) {
  const T eps = T(s.h[3]);
  for_adam_ranges<T>(s, [&](Ptrs<T> q, size_t t, int64_t b, int64_t e,
                            auto moments) {
    const T bc2 = T(s.coef[0][t]), gf = T(s.coef[1][t]), mf = T(s.coef[2][t]);
    for (int64_t j = b; j < e; ++j) {
      T g, p, m, v;
      moments(q, j, g, p, m, v);
      T denom = std::sqrt(v / bc2) + eps;
      p = p + gf * (g / denom);
      q.p[j] = p + mf * (m / denom);
    }
  });
}

template <typename T>
void radam_impl(const OptimSpec& s) {
  const T lr = T(s.h[0]), eps = T(s.h[3]);
  for_adam_ranges<T>(s, [&](Ptrs<T> q, size_t t, int64_t b, int64_t e,
                            auto moments) {
    const T bc1 = T(s.coef[0][t]), bc2_sqrt = T(s.coef[1][t]), rect = T(s.coef[2][t]);
    const bool rectify = s.coef[2][t] > 0.0;
    for (int64_t j = b; j < e; ++j) {
      T g, p, m, v;
      moments(q, j, g, p, m, v);
      T upd = m / bc1 * lr;
      if (rectify) upd = upd * (bc2_sqrt / (std::sqrt(v) + eps)) * rect;
      q.p[j] = p - upd;
    }
  });
}

#define RV_OPTIM_KERNEL(name)                                                           \
  void name##_kernel_cpu(const OptimSpec& s) {                                          \
    RV_DISPATCH_FLOAT(s.dtype, #name "_step_", [&] { name##_impl<scalar_t>(s); });     \
  }
RV_OPTIM_KERNEL(sgd)
RV_OPTIM_KERNEL(adam)
RV_OPTIM_KERNEL(rmsprop)
RV_OPTIM_KERNEL(adagrad)
RV_OPTIM_KERNEL(adadelta)
RV_OPTIM_KERNEL(adamax)
RV_OPTIM_KERNEL(nadam)
RV_OPTIM_KERNEL(radam)
#undef RV_OPTIM_KERNEL

}  // namespace

void register_optim() {
  sgd_kernel.set(DeviceType::CPU, &sgd_kernel_cpu);
  adam_kernel.set(DeviceType::CPU, &adam_kernel_cpu);
  rmsprop_kernel.set(DeviceType::CPU, &rmsprop_kernel_cpu);
  adagrad_kernel.set(DeviceType::CPU, &adagrad_kernel_cpu);
  adadelta_kernel.set(DeviceType::CPU, &adadelta_kernel_cpu);
  adamax_kernel.set(DeviceType::CPU, &adamax_kernel_cpu);
  nadam_kernel.set(DeviceType::CPU, &nadam_kernel_cpu);
  radam_kernel.set(DeviceType::CPU, &radam_kernel_cpu);
}

}  // namespace ranvier::cpu::RV_SIMD_NS
