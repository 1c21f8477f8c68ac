// Elementwise activations (see activation.h): forward on the unary kernel slot, backward with
// ops (relu and gelu run one fused backward pass unless a graph of the gradient is wanted).
#include "ops/activation.h"

#include "autograd/accumulate_grad.h"
#include "autograd/function.h"
#include "autograd/inplace.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/gelu_grad.h"
#include "ops/iter.h"
#include "ops/ternary.h"
#include "ops/unary.h"
#include "ops/unary_internal.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

namespace {
constexpr double kSqrtHalf = 0.70710678118654752440;      // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;    // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;   // sqrt(2 / pi)
constexpr double kGeluC = 0.044715;
}  // namespace

GeluApproximate parse_gelu_approximate(const std::string& s) {
  if (s == "none") return GeluApproximate::None;
  if (s == "tanh") return GeluApproximate::Tanh;
  throw_error(ErrorKind::Runtime, "gelu: approximate argument must be either none or tanh.");
}

Tensor relu(const Tensor& t) {
  Tensor out = unary_forward(UnaryOp::Relu, t, "relu");
  if (autograd::needs_grad({t})) {
    autograd::record("ReluBackward0", {t}, {&out}, {}, {&out}, [](BackwardContext& c) {
      const Tensor& g = c.grad();
      Tensor o = detach(c.saved(0));
      if (autograd::GradMode::is_enabled())  // create_graph: stay differentiable
        return TensorList{mul(g, to_dtype(gt(o, zeros_like(o)), g.dtype()))};
      // A gradient nothing else holds (the usual case) is overwritten: one pass, no new buffer
      if (autograd::sole_owner_of_memory(g) && g.dtype() == o.dtype() && g.sizes() == o.sizes() &&
          g.device() == o.device()) {
        Tensor out = g;
        binary_forward_(BinaryOp::ReluGrad, out, o, "relu_backward");
        return TensorList{out};
      }
      return TensorList{binary_forward(BinaryOp::ReluGrad, g, o, "relu_backward")};
    });
  }
  return out;
}

Tensor& relu_(Tensor& t) {
  return unary_inplace(t, UnaryOp::Relu, "relu_", {}, [](const Tensor& x) { return relu(x); });
}

KernelSlot<GeluGradKernel> gelu_backward_kernel{"gelu_backward"};

Tensor gelu(const Tensor& t, GeluApproximate approximate) {
  bool tanh_form = approximate == GeluApproximate::Tanh;
  const bool grad = autograd::needs_grad({t});
  Tensor out, deriv;
  if (t.is_contiguous() &&
      (t.dtype() == DType::Float32 || t.dtype() == DType::Float64 ||
       (is_reduced_float(t.dtype()) && converts_16bit(t.device())))) {
    // one pass of the fused slot (kernels/cpu/activation.cpp, vectorised; kernels/cuda/gelu.cu)
    out = empty(t.sizes(), t.dtype(), t.device());
    GeluGradSpec s;
    s.dtype = t.dtype();
    s.tanh_form = tanh_form;
    s.forward = true;
    s.n = t.numel();
    s.x = t.data_ptr();
    s.out = out.data_ptr();
    if (grad && t.device().is_cpu() && !is_reduced_float(t.dtype())) {
      // Note [GELU's saved derivative]
      deriv = empty(t.sizes(), t.dtype(), t.device());
      s.deriv = deriv.data_ptr();
    }
    if (s.n > 0) gelu_backward_kernel.get(t.device(), "gelu")(s);
  } else {
    out = unary_forward(tanh_form ? UnaryOp::GeluTanh : UnaryOp::Gelu, t, "gelu");
  }
  if (grad) {
    std::vector<Tensor> keep{t};
    if (deriv.defined()) keep.push_back(deriv);
    autograd::record("GeluBackward0", {t}, {&out}, keep, {}, [tanh_form](BackwardContext& c) {
      const Tensor& g = c.grad();
      Tensor x = c.saved(0);
      // one pass unless a graph of the gradient is wanted
      const bool fused = !autograd::GradMode::is_enabled() && g.dtype() == x.dtype() &&
                         g.sizes() == x.sizes() && g.device() == x.device();
      if (fused && c.num_saved() > 1)
        return TensorList{mul(g, c.saved(1))};  // g * gelu'(x), saved by the forward
      if (fused && (x.dtype() == DType::Float32 || x.dtype() == DType::Float64 ||
                    (is_reduced_float(x.dtype()) && converts_16bit(x.device())))) {
        Tensor gc = contiguous(g), xc = contiguous(detach(x));
        Tensor out = empty(xc.sizes(), xc.dtype(), xc.device());
        GeluGradSpec s;
        s.dtype = xc.dtype();
        s.tanh_form = tanh_form;
        s.n = xc.numel();
        s.grad = gc.data_ptr();
        s.x = xc.data_ptr();
        s.out = out.data_ptr();
        if (s.n > 0) gelu_backward_kernel.get(xc.device(), "gelu_backward")(s);
        return TensorList{out};
      }
      Tensor x2 = mul(x, x);
      if (!tanh_form) {
        // Phi(x) + x * phi(x)
        Tensor cdf = mul(add(erf(mul(x, Scalar(kSqrtHalf))), Scalar(int64_t(1))), Scalar(0.5));
        Tensor pdf = mul(exp(mul(x2, Scalar(-0.5))), Scalar(kInvSqrt2Pi));
        return TensorList{mul(g, add(cdf, mul(x, pdf)))};
      }
      // u = k (x + c x^3), y = x (1 + tanh u) / 2:
      // y' = (1 + tanh u) / 2 + x (1 - tanh^2 u) k (1 + 3 c x^2) / 2
      Tensor u = mul(add(x, mul(mul(x2, x), Scalar(kGeluC))), Scalar(kSqrt2OverPi));
      Tensor th = tanh(u);
      Tensor du = mul(add(mul(x2, Scalar(3.0 * kGeluC)), Scalar(int64_t(1))), Scalar(kSqrt2OverPi));
      Tensor left = mul(add(th, Scalar(int64_t(1))), Scalar(0.5));
      Tensor right = mul(mul(mul(x, rsub_one(mul(th, th))), du), Scalar(0.5));
      return TensorList{mul(g, add(left, right))};
    });
  }
  return out;
}

Tensor silu(const Tensor& t) {
  Tensor out = unary_forward(UnaryOp::Silu, t, "silu");
  if (autograd::needs_grad({t})) {
    autograd::record("SiluBackward0", {t}, {&out}, {t}, {}, [](BackwardContext& c) {
      Tensor x = c.saved(0);
      Tensor s = sigmoid(x);
      // s (1 + x (1 - s))
      Tensor d = mul(s, add(mul(x, rsub_one(s)), Scalar(int64_t(1))));
      return TensorList{mul(c.grad(), d)};
    });
  }
  return out;
}

Tensor& silu_(Tensor& t) {
  return unary_inplace(t, UnaryOp::Silu, "silu_", {}, [](const Tensor& x) { return silu(x); });
}

Tensor leaky_relu(const Tensor& t, double negative_slope) {
  UnaryArgs args;
  args.a = negative_slope;
  Tensor out = unary_forward(UnaryOp::LeakyRelu, t, "leaky_relu", args);
  if (autograd::needs_grad({t})) {
    autograd::record("LeakyReluBackward0", {t}, {&out}, {t}, {},
                     [negative_slope](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       Tensor x = c.saved(0);
                       Tensor pos = gt(detach(x), zeros_like(x));
                       return TensorList{where(pos, g, mul(g, Scalar(negative_slope)))};
                     });
  }
  return out;
}

Tensor softplus(const Tensor& t, double beta, double threshold) {
  UnaryArgs args;
  args.a = beta;
  args.b = threshold;
  Tensor out = unary_forward(UnaryOp::Softplus, t, "softplus", args);
  if (autograd::needs_grad({t})) {
    autograd::record("SoftplusBackward0", {t}, {&out}, {t}, {},
                     [beta, threshold](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       Tensor z = mul(c.saved(0), Scalar(beta));
                       Tensor linear = gt(detach(z), full_like(z, Scalar(threshold)));
                       return TensorList{where(linear, g, mul(g, sigmoid(z)))};
                     });
  }
  return out;
}

}  // namespace ranvier
