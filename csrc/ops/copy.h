// Copies and dtype conversion: copy_ (strided, converting), to_dtype, contiguous, clone,
// detach, and the cast/fill kernel slots.
#pragma once
#include "core/dispatch.h"
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/common/loop_spec.h"

namespace ranvier {

// Writes src (broadcast to dst's shape, converted to dst's dtype) into dst.
Tensor& copy_(Tensor& dst, const Tensor& src);
// A tensor of the given dtype with t's values (t itself when the dtype already matches).
Tensor to_dtype(const Tensor& t, DType dtype, bool copy = false);
// t itself when contiguous, otherwise a contiguous copy (differentiable).
Tensor contiguous(const Tensor& t);
// A contiguous copy (differentiable).
Tensor clone(const Tensor& t);
// A contiguous copy that records no history (for engine and kernel internals).
Tensor contiguous_clone(const Tensor& t);
// An alias of t's data without autograd history.
Tensor detach(const Tensor& t);
// Sets every element of t to v (in place, bumps the version).
Tensor& fill_(Tensor& t, const Scalar& v);

// Writes v into every element of t: no autograd, no version bump (for internals).
void copy_raw_fill(const Tensor& t, const Scalar& v);

// t on device d (t itself when already there; differentiable). Note [Cross-device copy].
Tensor to_device(const Tensor& t, Device d);

// Raw copy of nbytes between two devices (either may be the CPU); set by the CUDA library when
// it loads, null otherwise.
using DeviceMemcpy = void (*)(void* dst, Device dst_dev, const void* src, Device src_dev,
                              size_t nbytes);
extern DeviceMemcpy device_memcpy;

// Kernel slots: cast copies operand 1 into operand 0 converting dtypes; fill writes v.
using CastKernel = void (*)(const LoopSpec& s);
using FillKernel = void (*)(const LoopSpec& s, const Scalar& v);
extern KernelSlot<CastKernel> cast_kernel;
extern KernelSlot<FillKernel> fill_kernel;

}  // namespace ranvier
