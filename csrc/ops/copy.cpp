// copy_, to_dtype, contiguous, clone, detach, fill_ (see copy.h).
#include "ops/copy.h"

#include "autograd/function.h"
#include "autograd/inplace.h"
#include "ops/iter.h"
#include "ops/factory.h"
#include "ops/shape.h"

namespace ranvier {

KernelSlot<CastKernel> cast_kernel{"cast"};
KernelSlot<FillKernel> fill_kernel{"fill"};
DeviceMemcpy device_memcpy = nullptr;

namespace {
void raw_copy(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  Tensor s = src;
  if (overlaps_differently(dst, src)) s = contiguous_clone(src);
  LoopSpec spec = make_loop(dst, {&s});
  cast_kernel.get(dst.device(), "copy_")(spec);
}
// Note [Cross-device copy]: the source is converted to dst's dtype, broadcast and made
// contiguous on its own device, moved with one raw copy, then scattered into dst on dst's
// device when dst is not contiguous. No autograd here.
void cross_device_copy(const Tensor& dst, const Tensor& src) {
  RV_CHECK(device_memcpy != nullptr, "copy_: cannot copy from ", src.device().str(), " to ",
           dst.device().str(), ": ranvier was built without CUDA or found no CUDA device");
  if (dst.numel() == 0) return;
  autograd::NoGradGuard ng;
  Tensor s = detach(src);
  if (s.dtype() != dst.dtype()) s = to_dtype(s, dst.dtype());
  if (s.sizes() != dst.sizes()) s = expand(s, dst.sizes());
  if (!s.is_contiguous()) s = contiguous_clone(s);
  Tensor d = dst.is_contiguous() ? dst : empty(dst.sizes(), dst.dtype(), dst.device());
  device_memcpy(d.data_ptr(), d.device(), s.data_ptr(), s.device(),
                size_t(d.numel()) * element_size(d.dtype()));
  if (d.impl() != dst.impl()) raw_copy(dst, d);
}
}  // namespace

Tensor to_device(const Tensor& t, Device d) {
  if (t.device() == d) return t;
  Tensor out = empty(t.sizes(), t.dtype(), d);
  cross_device_copy(out, t);
  if (autograd::needs_grad({t})) {
    Device from = t.device();
    autograd::record("ToCopyBackward0", {t}, {&out}, {}, {},
                     [from](autograd::BackwardContext& c) {
                       return autograd::TensorList{to_device(c.grad(), from)};
                     });
  }
  return out;
}

Tensor& copy_(Tensor& dst, const Tensor& src) {
  if (dst.device() != src.device()) {
    Shape b = broadcast_shapes(dst.sizes(), src.sizes(), "copy_");
    RV_CHECK(b == dst.sizes(), "copy_: source of shape ", shape_str(src.sizes()),
             " cannot be broadcast to the destination shape ", shape_str(dst.sizes()));
    if (autograd::inplace_needs_grad(dst, {src})) {
      Tensor moved = to_device(src, dst.device());  // differentiable
      return copy_(dst, moved);
    }
    cross_device_copy(dst, src);
    dst.bump_version();
    return dst;
  }
  check_same_device("copy_", {&dst, &src});
  Shape b = broadcast_shapes(dst.sizes(), src.sizes(), "copy_");
  RV_CHECK(b == dst.sizes(), "copy_: source of shape ", shape_str(src.sizes()),
           " cannot be broadcast to the destination shape ", shape_str(dst.sizes()));
  if (autograd::inplace_needs_grad(dst, {src})) {
    Tensor converted = to_dtype(src, dst.dtype());
    Tensor expanded = converted.sizes() == dst.sizes() ? converted : expand(converted, dst.sizes());
    autograd::commit_inplace(dst, clone(expanded), "copy_");
    return dst;
  }
  raw_copy(dst, src);
  dst.bump_version();
  return dst;
}

Tensor to_dtype(const Tensor& t, DType dtype, bool copy) {
  if (t.dtype() == dtype && !copy) return t;
  Tensor out = empty(t.sizes(), dtype, t.device());
  raw_copy(out, t);
  if (autograd::needs_grad({t}) && is_floating(dtype)) {
    DType from = t.dtype();
    autograd::record("ToCopyBackward0", {t}, {&out}, {}, {},
                     [from](autograd::BackwardContext& c) {
                       return autograd::TensorList{to_dtype(c.grad(), from)};
                     });
  }
  return out;
}

Tensor contiguous_clone(const Tensor& t) {
  Tensor out = empty(t.sizes(), t.dtype(), t.device());
  raw_copy(out, t);
  return out;
}

Tensor clone(const Tensor& t) {
  Tensor out = contiguous_clone(t);
  if (autograd::needs_grad({t})) {
    autograd::record("CloneBackward0", {t}, {&out}, {}, {},
                     [](autograd::BackwardContext& c) { return autograd::TensorList{c.grad()}; });
  }
  return out;
}

Tensor contiguous(const Tensor& t) { return t.is_contiguous() ? t : clone(t); }

Tensor detach(const Tensor& t) {
  auto impl = std::make_shared<TensorImpl>(t.impl()->storage(), t.sizes(), t.strides(),
                                           t.storage_offset(), t.dtype());
  impl->set_view_base(t.impl()->view_base());
  return Tensor(std::move(impl));
}

Tensor& fill_(Tensor& t, const Scalar& v) {
  if (autograd::inplace_needs_grad(t, {}, "fill_")) {
    autograd::commit_inplace(t, full(t.sizes(), v, t.dtype(), t.device()), "fill_");
    return t;
  }
  copy_raw_fill(t, v);
  t.bump_version();
  return t;
}

void copy_raw_fill(const Tensor& t, const Scalar& v) {
  if (t.numel() == 0) return;
  LoopSpec spec = make_loop(t, {});
  fill_kernel.get(t.device(), "fill_")(spec, v);
}

}  // namespace ranvier
