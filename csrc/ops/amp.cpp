// The GradScaler ops (ops/amp.h): argument checks and one kernel call per gradient.
// Non-contiguous gradients are unscaled through a contiguous copy that is written back.
#include "ops/amp.h"

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "ops/copy.h"

namespace ranvier {

KernelSlot<AmpUnscaleKernel> amp_unscale_kernel{"amp_unscale"};
KernelSlot<AmpUpdateScaleKernel> amp_update_scale_kernel{"amp_update_scale"};

namespace {

void check_scalar(const char* op, const char* what, const Tensor& t, DType dt) {
  RV_CHECK(t.defined(), op, ": ", what, " is undefined");
  RV_CHECK(t.numel() == 1, op, ": ", what, " must be a one-element tensor, but got shape ",
           shape_str(t.sizes()));
  RV_CHECK_TYPE(t.dtype() == dt, op, ": ", what, " must be a ", dtype_name(dt),
                " tensor, but got ", dtype_name(t.dtype()));
}

}  // namespace

void amp_foreach_non_finite_check_and_unscale_(const std::vector<Tensor>& grads,
                                               Tensor& found_inf, const Tensor& inv_scale) {
  const char* op = "_amp_foreach_non_finite_check_and_unscale_";
  check_scalar(op, "found_inf", found_inf, DType::Float32);
  check_scalar(op, "inv_scale", inv_scale, DType::Float32);
  const Device dev = found_inf.device();
  RV_CHECK(inv_scale.device() == dev, op, ": found_inf and inv_scale must be on one device");
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    RV_CHECK(g.defined(), op, ": grads[", i, "] is undefined");
    RV_CHECK_TYPE(is_floating(g.dtype()), op, ": grads[", i,
                  "] must be a floating-point tensor, but got ", dtype_name(g.dtype()));
    RV_CHECK(g.device() == dev, op, ": grads[", i, "] is on ", g.device().str(),
             " but found_inf is on ", dev.str());
  }
  autograd::NoGradGuard no_grad;
  AmpUnscaleKernel k = amp_unscale_kernel.get(dev, op);
  float* fi = static_cast<float*>(found_inf.data_ptr());
  const float* is = static_cast<const float*>(inv_scale.data_ptr());
  for (const Tensor& g : grads) {
    if (g.numel() == 0) continue;
    if (g.is_contiguous()) {
      k(g.data_ptr(), g.numel(), g.dtype(), fi, is);
    } else {
      Tensor tmp = contiguous_clone(g);
      k(tmp.data_ptr(), tmp.numel(), tmp.dtype(), fi, is);
      Tensor dst = g;
      copy_(dst, tmp);
    }
    g.bump_version();
  }
  found_inf.bump_version();
}

Tensor& amp_update_scale_(Tensor& scale, Tensor& growth_tracker, const Tensor& found_inf,
                          double growth_factor, double backoff_factor, int64_t growth_interval) {
  const char* op = "_amp_update_scale_";
  check_scalar(op, "scale", scale, DType::Float32);
  check_scalar(op, "growth_tracker", growth_tracker, DType::Int32);
  check_scalar(op, "found_inf", found_inf, DType::Float32);
  RV_CHECK(growth_tracker.device() == scale.device() && found_inf.device() == scale.device(), op,
           ": scale, growth_tracker and found_inf must be on one device");
  RV_CHECK_VALUE(growth_interval > 0, op, ": growth_interval must be positive, but got ",
                 growth_interval);
  amp_update_scale_kernel.get(scale.device(), op)(
      static_cast<float*>(scale.data_ptr()), static_cast<int32_t*>(growth_tracker.data_ptr()),
      static_cast<const float*>(found_inf.data_ptr()), growth_factor, backoff_factor,
      growth_interval);
  scale.bump_version();
  growth_tracker.bump_version();
  return scale;
}

}  // namespace ranvier
