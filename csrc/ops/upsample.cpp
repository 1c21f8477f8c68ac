// upsample / upsample_backward (see upsample.h): argument checks, the per-dim tap tables of
// Note [Upsample coordinates], and the two kernel calls. Each op's backward is the other op, so
// gradients of any order are available.
#include "ops/upsample.h"

#include <algorithm>
#include <cmath>

#include "autograd/function.h"
#include "ops/copy.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<UpsampleKernel> upsample_forward_kernel{"upsample_forward"};
KernelSlot<UpsampleKernel> upsample_backward_kernel{"upsample_backward"};

namespace {

const char* mode_name(UpsampleMode m) {
  switch (m) {
    case UpsampleMode::Nearest: return "upsample_nearest";
    case UpsampleMode::NearestExact: return "upsample_nearest_exact";
    case UpsampleMode::Linear: return "upsample_linear";
    case UpsampleMode::Area: return "upsample_area";
    case UpsampleMode::LinearAA: return "upsample_bilinear_aa";
    case UpsampleMode::CubicAA: return "upsample_bicubic_aa";
    default: return "upsample_bicubic";
  }
}

struct Taps {
  int64_t k = 1;
  std::vector<int64_t> idx;
  std::vector<double> w;
};

double cubic_near(double x, double a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
double cubic_far(double x, double a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

// Tap table for one spatial dim: input size n, output size m, scale factor f (<= 0: none).
// nsp: the number of spatial dims (2-D nearest keeps PyTorch's m == n and m == 2n shortcuts).
Taps make_taps(UpsampleMode mode, int64_t n, int64_t m, bool align_corners, double f,
               int64_t nsp) {
  Taps t;
  if (mode == UpsampleMode::Nearest || mode == UpsampleMode::NearestExact) {
    t.k = 1;
    float s = f > 0 ? float(1.0 / f) : float(n) / float(m);
    for (int64_t j = 0; j < m; ++j) {
      int64_t i;
      if (mode == UpsampleMode::Nearest && nsp == 2 && m == n) {
        i = j;
      } else if (mode == UpsampleMode::Nearest && nsp == 2 && m == 2 * n) {
        i = j >> 1;
      } else if (mode == UpsampleMode::Nearest) {
        i = int64_t(std::floor(s * float(j)));
      } else {
        float src = s * (float(j) + 0.5f) - 0.5f;
        i = int64_t(std::floor((src < 0.f ? 0.f : src) + 0.5f));
      }
      t.idx.push_back(std::min(i, n - 1));
      t.w.push_back(1.0);
    }
    return t;
  }
  if (mode == UpsampleMode::Area) {  // output j averages input [floor(j n / m), ceil((j+1) n / m))
    t.k = 1;
    for (int64_t j = 0; j < m; ++j) t.k = std::max(t.k, ((j + 1) * n + m - 1) / m - j * n / m);
    for (int64_t j = 0; j < m; ++j) {
      const int64_t b = j * n / m, e = ((j + 1) * n + m - 1) / m;
      for (int64_t q = 0; q < t.k; ++q) {
        t.idx.push_back(b + q < e ? b + q : b);
        t.w.push_back(b + q < e ? 1.0 / double(e - b) : 0.0);
      }
    }
    return t;
  }
  if (mode == UpsampleMode::LinearAA || mode == UpsampleMode::CubicAA) {
    const bool cub = mode == UpsampleMode::CubicAA;
    const double s = align_corners ? (m > 1 ? double(n - 1) / double(m - 1) : 0.0)
                                   : (f > 0 ? 1.0 / f : double(n) / double(m));
    const double support = (cub ? 2.0 : 1.0) * (s >= 1.0 ? s : 1.0);
    const double inv = s >= 1.0 ? 1.0 / s : 1.0;
    t.k = int64_t(std::ceil(support)) * 2 + 1;
    for (int64_t j = 0; j < m; ++j) {
      const double c = s * (double(j) + 0.5);
      const int64_t lo = std::max(int64_t(c - support + 0.5), int64_t(0));
      const int64_t size =
          std::min(std::max(std::min(int64_t(c + support + 0.5), n) - lo, int64_t(0)), t.k);
      std::vector<double> w(size_t(t.k), 0.0);
      double total = 0;
      for (int64_t q = 0; q < size; ++q) {
        double x = std::abs((double(q + lo) - c + 0.5) * inv);
        double v = cub ? (x < 1 ? cubic_near(x, -0.5) : (x < 2 ? cubic_far(x, -0.5) : 0.0))
                       : (x < 1 ? 1 - x : 0.0);
        w[size_t(q)] = v;
        total += v;
      }
      for (int64_t q = 0; q < t.k; ++q) {
        t.idx.push_back(q < size ? lo + q : std::min(lo, n - 1));
        t.w.push_back(q < size && total != 0 ? w[size_t(q)] / total : 0.0);
      }
    }
    return t;
  }
  const bool cubic = mode == UpsampleMode::Cubic;
  if (!cubic && m == n) {  // linear: a dim whose size does not change is copied
    t.k = 1;
    for (int64_t j = 0; j < m; ++j) {
      t.idx.push_back(j);
      t.w.push_back(1.0);
    }
    return t;
  }
  double s = align_corners ? (m > 1 ? double(n - 1) / double(m - 1) : 0.0)
                           : (f > 0 ? 1.0 / f : double(n) / double(m));
  t.k = cubic ? 4 : 2;
  for (int64_t j = 0; j < m; ++j) {
    double src = align_corners ? s * double(j) : s * (double(j) + 0.5) - 0.5;
    if (!align_corners && !cubic && src < 0) src = 0;
    int64_t i0 = std::min(int64_t(std::floor(src)), n - 1);
    double lam = std::min(std::max(src - double(i0), 0.0), 1.0);
    if (!cubic) {
      t.idx.push_back(i0);
      t.idx.push_back(i0 < n - 1 ? i0 + 1 : i0);
      t.w.push_back(1.0 - lam);
      t.w.push_back(lam);
    } else {
      const double a = -0.75;
      double w[4] = {cubic_far(lam + 1.0, a), cubic_near(lam, a), cubic_near(1.0 - lam, a),
                     cubic_far(2.0 - lam, a)};
      for (int q = 0; q < 4; ++q) {
        t.idx.push_back(std::min(std::max(i0 - 1 + q, int64_t(0)), n - 1));
        t.w.push_back(w[q]);
      }
    }
  }
  return t;
}

void check_args(const char* op, const Tensor& t, UpsampleMode mode, const Shape& out_size,
                const Shape& in_size, const std::vector<double>& scales) {
  RV_CHECK_TYPE(is_floating(t.dtype()), op, ": expected a floating point input (or an integer "
                "one for the nearest modes), got ", t.describe());
  RV_CHECK_VALUE(t.dim() >= 3 && t.dim() <= 5, op, ": expected a 3-D, 4-D or 5-D input "
                 "[N, C, *spatial], got ", t.describe());
  const size_t nsp = size_t(t.dim() - 2);
  RV_CHECK_VALUE(out_size.size() == nsp && in_size.size() == nsp, op, ": expected ", nsp,
                 " spatial sizes for input of shape ", shape_str(t.sizes()), ", got output size ",
                 shape_str(out_size), " and input size ", shape_str(in_size));
  RV_CHECK_VALUE(scales.empty() || scales.size() == nsp, op, ": expected ", nsp,
                 " scale factors, got ", scales.size());
  RV_CHECK_VALUE((mode != UpsampleMode::Cubic && mode != UpsampleMode::LinearAA &&
                  mode != UpsampleMode::CubicAA) || nsp == 2, op,
                 ": this mode needs a 4-D input, got ", t.describe());
  for (size_t d = 0; d < nsp; ++d)
    RV_CHECK_VALUE(in_size[d] > 0 && out_size[d] > 0, op, ": input and output sizes should be "
                   "greater than 0, but got input size ", shape_str(in_size), " and output size ",
                   shape_str(out_size));
}

// Runs the forward (src = input, in -> out) or the backward (src = grad, out -> in) kernel.
Tensor run(const Tensor& src, UpsampleMode mode, const Shape& in_size, const Shape& out_size,
           bool align_corners, const std::vector<double>& scales, bool forward) {
  const int64_t nsp = int64_t(in_size.size());
  Taps taps[3];
  UpsampleSpec s;
  s.dtype = src.dtype();
  s.planes = src.sizes()[0] * src.sizes()[1];
  for (int64_t d = 0; d < nsp; ++d) {
    const int64_t q = 3 - nsp + d;
    taps[q] = make_taps(mode, in_size[d], out_size[d], align_corners,
                        scales.empty() ? -1.0 : scales[d], nsp);
    s.in[q] = in_size[d];
    s.out[q] = out_size[d];
    s.k[q] = taps[q].k;
    s.idx[q] = taps[q].idx.data();
    s.w[q] = taps[q].w.data();
  }
  static const int64_t zero_idx = 0;
  static const double one_w = 1.0;
  for (int64_t q = 0; q < 3 - nsp; ++q) {
    s.idx[q] = &zero_idx;
    s.w[q] = &one_w;
  }
  Shape shape{src.sizes()[0], src.sizes()[1]};
  for (int64_t v : (forward ? out_size : in_size)) shape.push_back(v);
  Tensor x = contiguous(detach(src));
  Tensor out = empty(shape, src.dtype(), src.device());
  if (s.planes > 0) {
    s.src = x.data_ptr();
    s.dst = out.data_ptr();
    (forward ? upsample_forward_kernel : upsample_backward_kernel)
        .get(src.device(), mode_name(mode))(s);
  }
  return out;
}

}  // namespace

Tensor upsample(const Tensor& input, UpsampleMode mode, const Shape& output_size,
                bool align_corners, const std::vector<double>& scales) {
  const char* op = mode_name(mode);
  Shape in_size(input.sizes().begin() + std::min<int64_t>(2, input.dim()), input.sizes().end());
  const bool nearest = mode == UpsampleMode::Nearest || mode == UpsampleMode::NearestExact;
  if (nearest && !is_floating(input.dtype()) && input.dtype() != DType::Bool) {
    // integer images: nearest only picks values, which float64 holds exactly up to 2^53
    Tensor r = upsample(to_dtype(input, DType::Float64), mode, output_size, align_corners,
                        scales);
    return to_dtype(r, input.dtype());
  }
  check_args(op, input, mode, output_size, in_size, scales);
  if (is_reduced_float(input.dtype()))
    return to_dtype(upsample(to_dtype(input, DType::Float32), mode, output_size, align_corners,
                             scales), input.dtype());
  Tensor out = run(input, mode, in_size, output_size, align_corners, scales, true);
  if (autograd::needs_grad({input})) {
    autograd::record("UpsampleBackward0", {input}, {&out}, {}, {},
                     [=](BackwardContext& ctx) {
      return TensorList{upsample_backward(ctx.grad(), mode, in_size, align_corners, scales)};
    });
  }
  return out;
}

Tensor upsample_backward(const Tensor& grad, UpsampleMode mode, const Shape& input_size,
                         bool align_corners, const std::vector<double>& scales) {
  const char* op = mode_name(mode);
  Shape out_size(grad.sizes().begin() + std::min<int64_t>(2, grad.dim()), grad.sizes().end());
  check_args(op, grad, mode, out_size, input_size, scales);
  if (is_reduced_float(grad.dtype()))
    return to_dtype(upsample_backward(to_dtype(grad, DType::Float32), mode, input_size,
                                      align_corners, scales), grad.dtype());
  Tensor gin = run(grad, mode, input_size, out_size, align_corners, scales, false);
  if (autograd::needs_grad({grad})) {
    autograd::record("UpsampleBackwardBackward0", {grad}, {&gin}, {}, {},
                     [=](BackwardContext& ctx) {
      return TensorList{upsample(ctx.grad(), mode, out_size, align_corners, scales)};
    });
  }
  return gin;
}

}  // namespace ranvier
