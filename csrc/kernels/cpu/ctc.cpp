// CPU CTC kernels (see ops/ctc.h), one batch element per task (OpenMP over the batch; each
// element writes only its own loss and its own [:, b, :] gradient slice). With the extended label
// sequence l' = (blank, y1, blank, y2, ..., blank) of length 2L+1, in log space:
//   alpha_t(s) = lp_t(l'_s) + lse(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2) if allowed)
//   beta_t(s)  = lp_t(l'_s) + lse(beta_{t+1}(s), beta_{t+1}(s+1), beta_{t+1}(s+2) if allowed)
// where the skip is allowed between different non-blank labels; nll = -log p(y|x) and
//   d nll / d lp_t(c) = -exp(lse_{s: l'_s = c}(alpha_t(s) + beta_t(s)) - lp_t(c) + nll).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "ops/ctc.h"

namespace ranvier::cpu {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

inline double lse2(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  double m = std::max(a, b);
  return m + std::log(std::exp(a - m) + std::exp(b - m));
}

template <typename T>
struct Sample {
  const CtcSpec& s;
  int64_t b, len, tl, ext;
  const int64_t* y;
  const T* lp;
  int64_t label(int64_t i) const { return (i & 1) ? y[i >> 1] : s.blank; }
  double at(int64_t t, int64_t c) const { return double(lp[(t * s.n + b) * s.c + c]); }
  bool skip(int64_t i) const { return (i & 1) && i >= 2 && label(i) != label(i - 2); }

  Sample(const CtcSpec& spec, int64_t bb)
      : s(spec), b(bb), len(spec.input_lengths[bb]), tl(spec.target_lengths[bb]),
        ext(2 * spec.target_lengths[bb] + 1),
        y(spec.targets ? spec.targets + spec.offset[bb] : nullptr),
        lp(static_cast<const T*>(spec.log_probs)) {}

  // nll from a filled alpha [len, ext].
  double nll_of(const double* alpha) const {
    if (len == 0) return tl == 0 ? 0.0 : std::numeric_limits<double>::infinity();
    const double* last = &alpha[size_t((len - 1) * ext)];
    double ll = last[ext - 1];
    if (ext > 1) ll = lse2(ll, last[ext - 2]);
    return -ll;
  }

  // Fills alpha [len, ext] and returns nll.
  double forward(double* alpha) const {
    if (len == 0) return nll_of(alpha);
    std::fill(alpha, alpha + len * ext, kNegInf);
    alpha[0] = at(0, s.blank);
    if (ext > 1) alpha[1] = at(0, label(1));
    for (int64_t t = 1; t < len; ++t) {
      const double* prev = &alpha[size_t((t - 1) * ext)];
      double* cur = &alpha[size_t(t * ext)];
      for (int64_t i = 0; i < ext; ++i) {
        double v = prev[i];
        if (i >= 1) v = lse2(v, prev[i - 1]);
        if (skip(i)) v = lse2(v, prev[i - 2]);
        cur[i] = v == kNegInf ? kNegInf : v + at(t, label(i));
      }
    }
    return nll_of(alpha);
  }

  void backward(const double* alpha, double nll, double g, T* gin) const {
    for (int64_t t = 0; t < s.t; ++t)
      for (int64_t c = 0; c < s.c; ++c) gin[(t * s.n + b) * s.c + c] = T(0);
    if (len == 0 || std::isinf(nll) || std::isnan(nll)) {
      if (s.zero_infinity || len == 0) return;
    }
    std::vector<double> beta(size_t(len * ext), kNegInf), lcab(size_t(s.c));
    double* endrow = &beta[size_t((len - 1) * ext)];
    endrow[ext - 1] = at(len - 1, s.blank);
    if (ext > 1) endrow[ext - 2] = at(len - 1, label(ext - 2));
    for (int64_t t = len - 2; t >= 0; --t) {
      const double* nxt = &beta[size_t((t + 1) * ext)];
      double* cur = &beta[size_t(t * ext)];
      for (int64_t i = 0; i < ext; ++i) {
        double v = nxt[i];
        if (i + 1 < ext) v = lse2(v, nxt[i + 1]);
        if (i + 2 < ext && skip(i + 2)) v = lse2(v, nxt[i + 2]);
        cur[i] = v == kNegInf ? kNegInf : v + at(t, label(i));
      }
    }
    for (int64_t t = 0; t < len; ++t) {
      std::fill(lcab.begin(), lcab.end(), kNegInf);
      const double* a = &alpha[size_t(t * ext)];
      const double* bt = &beta[size_t(t * ext)];
      for (int64_t i = 0; i < ext; ++i) {
        double ab = a[i] == kNegInf || bt[i] == kNegInf ? kNegInf : a[i] + bt[i];
        lcab[size_t(label(i))] = lse2(lcab[size_t(label(i))], ab);
      }
      for (int64_t c = 0; c < s.c; ++c) {
        if (lcab[size_t(c)] == kNegInf) continue;
        gin[(t * s.n + b) * s.c + c] = T(-std::exp(lcab[size_t(c)] - at(t, c) + nll) * g);
      }
    }
  }
};

template <typename T>
void forward(const CtcSpec& s) {
  T* nll = static_cast<T*>(s.nll);
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, s.t * s.c));
  parallel_for(0, s.n, grain, [&](int64_t bb, int64_t be) {
    std::vector<double> local;
    for (int64_t b = bb; b < be; ++b) {
      Sample<T> smp(s, b);
      double* alpha = s.alpha ? s.alpha + b * s.alpha_stride : nullptr;
      if (!alpha) {
        local.resize(size_t(smp.len * smp.ext));
        alpha = local.data();
      }
      double v = smp.forward(alpha);
      if (s.zero_infinity && std::isinf(v)) v = 0;
      nll[b] = T(v);
    }
  });
}

template <typename T>
void backward(const CtcSpec& s) {
  const T* g = static_cast<const T*>(s.grad);
  T* gin = static_cast<T*>(s.grad_in);
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, s.t * s.c));
  parallel_for(0, s.n, grain, [&](int64_t bb, int64_t be) {
    for (int64_t b = bb; b < be; ++b) {
      Sample<T> smp(s, b);
      const double* alpha = s.alpha ? s.alpha + b * s.alpha_stride : nullptr;
      smp.backward(alpha, smp.nll_of(alpha), double(g[b]), gin);
    }
  });
}

void ctc_forward_cpu(const CtcSpec& s) {
  if (s.dtype == DType::Float64) forward<double>(s);
  else forward<float>(s);
}
void ctc_backward_cpu(const CtcSpec& s) {
  if (s.dtype == DType::Float64) backward<double>(s);
  else backward<float>(s);
}

}  // namespace

void register_ctc_cpu() {
  ctc_forward_kernel.set(DeviceType::CPU, &ctc_forward_cpu);
  ctc_backward_kernel.set(DeviceType::CPU, &ctc_backward_cpu);
}

}  // namespace ranvier::cpu
