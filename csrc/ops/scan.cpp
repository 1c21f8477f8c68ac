// Scans (see reduce.h): cumsum, cumprod and reverse_cumsum. cumsum's gradient is the reversed
// cumsum of the incoming gradient. cumprod's gradient is written with ops when the input has
// no zeros (so its double backward works); with zeros it comes from a division-free kernel
// (exact), whose own derivative raises NotImplementedError.
#include "autograd/function.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/reduce.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<ScanKernel> scan_kernel{"scan"};
KernelSlot<CumprodGradKernel> cumprod_grad_kernel{"cumprod_grad"};

namespace {

ScanSpec make_scan_spec(const Tensor& in, const Tensor& out, int64_t d) {
  ScanSpec s;
  s.in = static_cast<const char*>(in.data_ptr());
  s.in_dtype = in.dtype();
  s.out = static_cast<char*>(out.data_ptr());
  s.out_dtype = out.dtype();
  if (in.dim() == 0) {
    s.n = 1;
    return s;
  }
  s.n = in.sizes()[d];
  s.in_stride = in.strides()[d];
  s.out_stride = out.strides()[d];
  for (int64_t i = 0; i < in.dim(); ++i) {
    if (i == d || in.sizes()[i] == 1) continue;
    s.outer_sizes[s.nouter] = in.sizes()[i];
    s.in_outer_strides[s.nouter] = in.strides()[i];
    s.out_outer_strides[s.nouter++] = out.strides()[i];
    s.outer_numel *= in.sizes()[i];
  }
  return s;
}

DType scan_result_dtype(DType in) { return is_floating(in) ? in : DType::Int64; }

bool has_zero(const Tensor& x) {
  Tensor zero = scalar_tensor(Scalar(0.0), x.dtype(), x.device());
  // read on the host
  return *contiguous_clone(to_device(any(eq(detach(x), zero)), Device())).data<bool>();
}

// Runs a scan with the result dtype rules of cumsum/cumprod (float16/bfloat16 via float32).
Tensor scan_forward(ScanOp op, const Tensor& t, int64_t dim, bool reverse, const char* name,
                    OptDType dtype = std::nullopt) {
  DType od = dtype ? *dtype : scan_result_dtype(t.dtype());
  DType cd = is_reduced_float(od) ? DType::Float32 : od;
  Tensor in = is_floating(t.dtype()) && t.dtype() != cd ? to_dtype(detach(t), cd) : t;
  Tensor out = scan_raw(op, in, dim, cd, false, reverse, name);
  return cd != od ? to_dtype(out, od) : out;
}

}  // namespace

Tensor scan_raw(ScanOp op, const Tensor& t, int64_t dim, DType out_dtype, bool exclusive,
                bool reverse, const char* name) {
  int64_t d = wrap_dim(dim, t.dim(), name);
  Tensor out = empty(t.sizes(), out_dtype, t.device());
  if (t.numel() == 0) return out;
  ScanSpec s = make_scan_spec(t, out, d);
  s.op = op;
  s.exclusive = exclusive;
  s.reverse = reverse;
  scan_kernel.get(t.device(), name)(s);
  return out;
}

Tensor cumsum(const Tensor& t, int64_t dim, OptDType dtype) {
  if (dtype && *dtype != t.dtype()) return cumsum(to_dtype(t, *dtype), dim, dtype);
  Tensor out = scan_forward(ScanOp::Sum, t, dim, false, "cumsum", dtype);
  if (autograd::needs_grad({t})) {
    autograd::record("CumsumBackward0", {t}, {&out}, {}, {}, [dim](BackwardContext& c) {
      return TensorList{reverse_cumsum(c.grad(), dim)};
    });
  }
  return out;
}

Tensor reverse_cumsum(const Tensor& t, int64_t dim) {
  Tensor out = scan_forward(ScanOp::Sum, t, dim, true, "reverse_cumsum");
  if (autograd::needs_grad({t})) {
    autograd::record("ReverseCumsumBackward0", {t}, {&out}, {}, {}, [dim](BackwardContext& c) {
      return TensorList{cumsum(c.grad(), dim)};
    });
  }
  return out;
}

Tensor cumprod(const Tensor& t, int64_t dim, OptDType dtype) {
  if (dtype && *dtype != t.dtype()) return cumprod(to_dtype(t, *dtype), dim, dtype);
  Tensor out = scan_forward(ScanOp::Prod, t, dim, false, "cumprod", dtype);
  if (autograd::needs_grad({t})) {
    autograd::record("CumprodBackward0", {t}, {&out}, {t}, {&out}, [dim](BackwardContext& c) {
      Tensor x = c.saved(0);
      const Tensor& g = c.grad();
      if (!has_zero(x)) return TensorList{div(reverse_cumsum(mul(g, c.saved(1)), dim), x)};
      // Division-free form (see CumprodGradSpec), computed in float32 for 16-bit floats.
      DType cd = is_reduced_float(x.dtype()) ? DType::Float32 : x.dtype();
      Tensor xc = to_dtype(detach(x), cd), gc = to_dtype(detach(g), cd);
      Tensor r = empty(x.sizes(), cd, x.device());
      if (x.numel() > 0) {
        int64_t d = wrap_dim(dim, x.dim(), "cumprod");
        CumprodGradSpec spec;
        spec.scan = make_scan_spec(xc, r, d);
        spec.grad = static_cast<const char*>(gc.data_ptr());
        if (gc.dim() > 0) {
          spec.grad_stride = gc.strides()[d];
          int k = 0;
          for (int64_t i = 0; i < gc.dim(); ++i) {
            if (i == d || gc.sizes()[i] == 1) continue;
            spec.grad_outer_strides[k++] = gc.strides()[i];
          }
        }
        cumprod_grad_kernel.get(x.device(), "cumprod_backward")(spec);
      }
      if (cd != x.dtype()) r = to_dtype(r, x.dtype());
      if (autograd::needs_grad({g, x})) {
        autograd::record("CumprodBackwardWithZeros", {g, x}, {&r}, {}, {},
                         [](BackwardContext&) -> TensorList {
                           RV_CHECK_NOT_IMPLEMENTED(false,
                               "cumprod: double backward is not implemented when the input has "
                               "zeros");
                           return {};
                         });
      }
      return TensorList{r};
    });
  }
  return out;
}

}  // namespace ranvier
