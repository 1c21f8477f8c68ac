// Statistical reductions (see reduce.h): var, std, var_mean, std_mean and logsumexp are
// compositions of differentiable ops (two-pass variance; logsumexp subtracts the max first),
// so their double backward comes for free. norm has its own kernel (double accumulation) and
// a backward written with ops that gives zero gradient at a zero norm.
#include <cmath>

#include "autograd/function.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/unary.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

namespace {

void check_var_dtype(const Tensor& t) {
  RV_CHECK(is_floating(t.dtype()), "std and var only support floating point and complex dtypes",
           " (got ", dtype_short_name(t.dtype()), ")");
}

// Returns (var, mean) both with keepdim=true shapes, computed in t's dtype.
std::pair<Tensor, Tensor> var_mean_kept(const Tensor& t, const std::vector<int64_t>& dims,
                                        double correction) {
  std::vector<bool> red = reduced_dims(t, dims, "var");
  double n = double(reduced_count(t, red));
  Tensor m = mean(t, dims, true);
  Tensor d = sub(t, m);
  Tensor ss = sum(mul(d, d), dims, true);
  double denom = n - correction > 0 ? n - correction : 0.0;
  return {div(ss, Scalar(denom)), m};
}

Tensor drop_reduced(const Tensor& r, const Tensor& t, const std::vector<int64_t>& dims,
                    bool keepdim, const char* name) {
  if (keepdim) return r;
  return reshape(r, reduced_shape(t, reduced_dims(t, dims, name), false));
}

// Runs f on t in float32 when t is float16/bfloat16, and converts the results back.
template <typename F>
std::pair<Tensor, Tensor> in_float32(const Tensor& t, F&& f) {
  if (!is_reduced_float(t.dtype())) return f(t);
  auto r = f(to_dtype(t, DType::Float32));
  return {to_dtype(r.first, t.dtype()), r.second.defined() ? to_dtype(r.second, t.dtype()) : Tensor()};
}

// |x|^e with autograd (backward e * sign(x) * |x|^(e-1)).
Tensor abs_pow(const Tensor& x, double e) {
  UnaryArgs a;
  a.a = e;
  Tensor ax = abs(x);
  Tensor out = unary_forward(UnaryOp::PowScalar, detach(ax), "pow", a);
  if (autograd::needs_grad({ax})) {
    autograd::record("PowBackward0", {ax}, {&out}, {ax}, {}, [e](BackwardContext& c) {
      return TensorList{mul(c.grad(), mul(abs_pow(c.saved(0), e - 1.0), Scalar(e)))};
    });
  }
  return out;
}

}  // namespace

Tensor var(const Tensor& t, const std::vector<int64_t>& dims, double correction, bool keepdim) {
  check_var_dtype(t);
  auto r = in_float32(t, [&](const Tensor& x) {
    return std::make_pair(var_mean_kept(x, dims, correction).first, Tensor());
  });
  return drop_reduced(r.first, t, dims, keepdim, "var");
}

Tensor std(const Tensor& t, const std::vector<int64_t>& dims, double correction, bool keepdim) {
  check_var_dtype(t);
  auto r = in_float32(t, [&](const Tensor& x) {
    return std::make_pair(sqrt(var_mean_kept(x, dims, correction).first), Tensor());
  });
  return drop_reduced(r.first, t, dims, keepdim, "std");
}

std::pair<Tensor, Tensor> var_mean(const Tensor& t, const std::vector<int64_t>& dims,
                                   double correction, bool keepdim) {
  check_var_dtype(t);
  auto r = in_float32(t, [&](const Tensor& x) { return var_mean_kept(x, dims, correction); });
  return {drop_reduced(r.first, t, dims, keepdim, "var_mean"),
          drop_reduced(r.second, t, dims, keepdim, "var_mean")};
}

std::pair<Tensor, Tensor> std_mean(const Tensor& t, const std::vector<int64_t>& dims,
                                   double correction, bool keepdim) {
  check_var_dtype(t);
  auto r = in_float32(t, [&](const Tensor& x) {
    auto vm = var_mean_kept(x, dims, correction);
    return std::make_pair(sqrt(vm.first), vm.second);
  });
  return {drop_reduced(r.first, t, dims, keepdim, "std_mean"),
          drop_reduced(r.second, t, dims, keepdim, "std_mean")};
}

Tensor logsumexp(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor x = is_floating(t.dtype()) ? t : to_dtype(t, DType::Float32);
  reduced_dims(x, dims, "logsumexp");  // checks the dims
  auto r = in_float32(x, [&](const Tensor& xf) {
    if (xf.numel() == 0) return std::make_pair(log(sum(exp(xf), dims, true)), Tensor());
    // The shift is a constant for autograd; an infinite max is replaced by 0 so that
    // inf - inf never appears (all -inf gives -inf, any +inf gives +inf).
    UnaryArgs zeros;
    Tensor m = unary_forward(UnaryOp::NanToNum, amax(detach(xf), dims, true), "logsumexp", zeros);
    return std::make_pair(add(log(sum(exp(sub(xf, m)), dims, true)), m), Tensor());
  });
  return drop_reduced(r.first, x, dims, keepdim, "logsumexp");
}

Tensor norm(const Tensor& t, double p, const std::vector<int64_t>& dims, bool keepdim,
            OptDType dtype) {
  if (dtype && *dtype != t.dtype()) {
    RV_CHECK(is_floating(*dtype), "linalg.vector_norm: dtype should be floating point, but got ",
             dtype_short_name(*dtype));
    return norm(to_dtype(t, *dtype), p, dims, keepdim);
  }
  RV_CHECK(is_floating(t.dtype()),
           "linalg.vector_norm: Expected a floating point or complex tensor as input. Got ",
           dtype_short_name(t.dtype()));
  RV_CHECK(!std::isnan(p), "linalg.vector_norm: the order p must not be NaN");
  std::vector<bool> red = reduced_dims(t, dims, "norm");
  RV_CHECK(!(reduced_count(t, red) == 0 && (p < 0 || std::isinf(p))),
           "linalg.vector_norm cannot compute the ", p, " norm on an empty tensor because the ",
           "operation does not have an identity");
  DType cd = is_reduced_float(t.dtype()) ? DType::Float32 : t.dtype();
  Tensor in = t.dtype() == cd ? t : to_dtype(detach(t), cd);
  Tensor out = reduce_raw(ReduceOp::Norm, in, red, keepdim, cd, "norm", p);
  if (cd != t.dtype()) out = to_dtype(out, t.dtype());
  if (autograd::needs_grad({t})) {
    autograd::record("NormBackward1", {t}, {&out}, {t}, {&out}, [p, red, keepdim](BackwardContext& c) {
      Tensor x = c.saved(0);
      Tensor g = unsqueeze_reduced(c.grad(), red, keepdim);
      if (p == 0) return TensorList{zeros_like(x)};
      if (p == 1) return TensorList{mul(g, sign(detach(x)))};
      Tensor n = unsqueeze_reduced(c.saved(1), red, keepdim);
      if (std::isinf(p)) {
        std::vector<int64_t> dims;
        for (size_t i = 0; i < red.size(); ++i)
          if (red[i]) dims.push_back(int64_t(i));
        Tensor ax = abs(detach(x));
        Tensor mask = to_dtype(eq(ax, detach(n)), g.dtype());
        Tensor share = div(mask, sum(mask, dims, true));
        return TensorList{mul(g, mul(sign(detach(x)), share))};
      }
      // A zero norm gets a zero gradient: divide by 1 there instead of 0.
      Tensor zero_mask = to_dtype(eq(detach(n), scalar_tensor(Scalar(0.0), n.dtype(), n.device())),
                                  n.dtype());
      if (p == 2) return TensorList{div(mul(g, x), add(n, zero_mask))};
      Tensor num = mul(sign(detach(x)), abs_pow(x, p - 1.0));
      return TensorList{div(mul(g, num), add(abs_pow(n, p - 1.0), zero_mask))};
    });
  }
  return out;
}

}  // namespace ranvier
