// Mixed-precision helpers used by ranvier.amp.GradScaler: the fused inf/NaN check + unscale of a
// list of gradients, and the dynamic loss-scale update. Both run in place, record no autograd
// history, and leave every value on its device (no host synchronisation): found_inf, scale and
// growth_tracker are one-element tensors that the kernels read and write.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace ranvier {

// For each tensor of `grads` (floating, one device): sets found_inf to 1 if any element is inf
// or NaN, and multiplies every element by inv_scale, in one pass over the tensor.
// found_inf and inv_scale: one-element float32 tensors on the grads' device.
void amp_foreach_non_finite_check_and_unscale_(const std::vector<Tensor>& grads,
                                               Tensor& found_inf, const Tensor& inv_scale);

// The loss-scale update after a step: if found_inf is nonzero, scale *= backoff_factor and the
// growth tracker restarts at 0; else the tracker counts one more clean step and, when it
// reaches growth_interval, scale *= growth_factor (kept only if finite) and the tracker
// restarts. scale: one-element float32; growth_tracker: one-element int32; returns scale.
Tensor& amp_update_scale_(Tensor& scale, Tensor& growth_tracker, const Tensor& found_inf,
                          double growth_factor, double backoff_factor, int64_t growth_interval);

// Kernels. UnscaleKernel: n contiguous elements of `dtype` at data, scaled in place by
// *inv_scale; sets *found_inf = 1 when one of them is not finite.
using AmpUnscaleKernel = void (*)(void* data, int64_t n, DType dtype, float* found_inf,
                                  const float* inv_scale);
using AmpUpdateScaleKernel = void (*)(float* scale, int32_t* growth_tracker,
                                      const float* found_inf, double growth_factor,
                                      double backoff_factor, int64_t growth_interval);
extern KernelSlot<AmpUnscaleKernel> amp_unscale_kernel;
extern KernelSlot<AmpUpdateScaleKernel> amp_update_scale_kernel;

}  // namespace ranvier
