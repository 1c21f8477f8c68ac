// Factories (see factory.h).
#include "ops/factory.h"

#include <cmath>

#include "ops/copy.h"

namespace ranvier {

Tensor full(const Shape& sizes, const Scalar& value, DType dtype, Device device) {
  Tensor t = empty(sizes, dtype, device);
  copy_raw_fill(t, value);
  return t;
}
Tensor zeros(const Shape& sizes, DType dtype, Device device) {
  return full(sizes, Scalar(int64_t(0)), dtype, device);
}
Tensor ones(const Shape& sizes, DType dtype, Device device) {
  return full(sizes, Scalar(int64_t(1)), dtype, device);
}
Tensor empty_like(const Tensor& t) { return empty_contiguous_like(t); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), t.dtype(), t.device()); }
Tensor full_like(const Tensor& t, const Scalar& v) {
  return full(t.sizes(), v, t.dtype(), t.device());
}

Tensor scalar_tensor(const Scalar& v, DType dtype, Device device, bool wrapped) {
  Tensor t = empty({}, dtype, device);
  copy_raw_fill(t, v);
  t.impl()->set_wrapped_number(wrapped);
  return t;
}

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, DType dtype,
              Device device) {
  double s = start.to_double(), e = end.to_double(), st = step.to_double();
  RV_CHECK_VALUE(st != 0, "arange: step must be nonzero");
  RV_CHECK_VALUE(std::isfinite(s) && std::isfinite(e), "arange: unsupported range: ", s, " -> ", e);
  RV_CHECK_VALUE((st > 0 && e >= s) || (st < 0 && e <= s),
                 "arange: upper bound and larger bound inconsistent with step sign");
  int64_t n;
  if (start.is_floating() || end.is_floating() || step.is_floating()) {
    n = int64_t(std::ceil((e - s) / st));
  } else {
    int64_t si = start.to_int(), ei = end.to_int(), sti = step.to_int();
    n = sti > 0 ? (ei - si + sti - 1) / sti : (si - ei + (-sti) - 1) / (-sti);
  }
  if (n < 0) n = 0;
  Tensor cpu = empty({n}, DType::Float64, Device());
  double* p = cpu.data<double>();
  if (!is_floating(dtype)) {
    int64_t si = start.to_int(), sti = step.is_floating() ? 0 : step.to_int();
    Tensor ci = empty({n}, DType::Int64, Device());
    int64_t* q = ci.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) q[i] = sti ? si + i * sti : int64_t(s + double(i) * st);
    Tensor out = empty({n}, dtype, device);
    copy_(out, ci);
    return out;
  }
  for (int64_t i = 0; i < n; ++i) p[i] = s + double(i) * st;
  Tensor out = empty({n}, dtype, device);
  copy_(out, cpu);
  return out;
}

Tensor linspace(double start, double end, int64_t steps, DType dtype, Device device) {
  RV_CHECK_VALUE(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  Tensor cpu = empty({steps}, DType::Float64, Device());
  double* p = cpu.data<double>();
  double step = steps > 1 ? (end - start) / double(steps - 1) : 0.0;
  // Like PyTorch: the first half counts up from start, the second half down from end.
  int64_t half = steps / 2;
  for (int64_t i = 0; i < steps; ++i)
    p[i] = i < half ? start + step * double(i) : end - step * double(steps - 1 - i);
  if (!is_floating(dtype)) {
    for (int64_t i = 0; i < steps; ++i) p[i] = std::trunc(p[i]);
  }
  Tensor out = empty({steps}, dtype, device);
  copy_(out, cpu);
  return out;
}

Tensor eye(int64_t n, int64_t m, DType dtype, Device device) {
  RV_CHECK_VALUE(n >= 0 && m >= 0, "eye: n and m must be non-negative, got ", n, " and ", m);
  Tensor out = zeros({n, m}, dtype, device);
  int64_t k = n < m ? n : m;
  if (k > 0) {
    Tensor diag = make_view(out, {k}, {m + 1}, 0);
    copy_raw_fill(diag, Scalar(int64_t(1)));
  }
  return out;
}

}  // namespace ranvier
