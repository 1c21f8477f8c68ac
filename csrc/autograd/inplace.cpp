// In-place ops under autograd (see inplace.h).
#include "autograd/inplace.h"

#include "autograd/autograd_meta.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/shape.h"

namespace ranvier::autograd {

void check_inplace(const Tensor& self, const char* op) {
  if (!GradMode::is_enabled()) return;
  if (self.requires_grad() && self.is_leaf() && !self.is_view())
    throw_error(ErrorKind::Runtime,
                str_cat(op, ": a leaf Variable that requires grad is being used in an in-place "
                            "operation."));
  if (self.is_view()) {
    Tensor base(self.impl()->view_base());
    if (base.requires_grad() && base.is_leaf())
      throw_error(ErrorKind::Runtime,
                  str_cat(op, ": a view of a leaf Variable that requires grad is being used in "
                              "an in-place operation."));
  }
}

bool inplace_needs_grad(const Tensor& self, std::initializer_list<Tensor> others, const char* op) {
  if (!GradMode::is_enabled()) return false;
  check_inplace(self, op);
  bool any = self.requires_grad() || (self.is_view() && Tensor(self.impl()->view_base()).requires_grad());
  for (const Tensor& t : others) any = any || (t.defined() && t.requires_grad());
  return any;
}

namespace {

void copy_autograd_meta(Tensor& dst, const Tensor& src) {
  auto& m = dst.impl()->ensure_autograd();
  if (src.requires_grad() && src.grad_fn()) {
    m.grad_fn = src.grad_fn();
    m.output_nr = src.output_nr();
  } else {
    m.grad_fn = nullptr;
    m.output_nr = 0;
  }
}

}  // namespace

void commit_inplace(Tensor& self, const Tensor& result, const char* op) {
  RV_INTERNAL_ASSERT(result.sizes() == self.sizes(), "commit_inplace shape mismatch in ", op);
  {
    NoGradGuard ng;
    Tensor d = detach(self);
    copy_(d, detach(result));
  }
  if (!self.is_view()) {
    copy_autograd_meta(self, result);
    return;
  }
  // self is a view of base: base gets a CopySlices node.
  Tensor base(self.impl()->view_base());
  RV_CHECK_NOT_IMPLEMENTED(base.is_contiguous() && base.storage_offset() == 0, op,
                           ": in-place operation with autograd on a view of a non-contiguous "
                           "tensor is not supported; call .contiguous() on the base first");
  Shape vs = self.sizes(), vst = self.strides();
  int64_t voff = self.storage_offset();
  if (!base.requires_grad() && !result.requires_grad()) return;
  Tensor base_alias = detach(base);  // only for the node's metadata
  Tensor new_base_hist = base_alias;
  Tensor res = result;
  record("CopySlices", {base, res}, {&new_base_hist}, {}, {},
         [vs, vst, voff](BackwardContext& c) {
           const Tensor& g = c.grad();
           TensorList out(2);
           if (c.needs(0)) {
             Tensor mask = ones_like(g);
             {
               NoGradGuard ng;
               Tensor region = as_strided(mask, vs, vst, voff);
               fill_(region, Scalar(0.0));
             }
             out[0] = mul(g, mask);
           }
           if (c.needs(1)) out[1] = contiguous(as_strided(contiguous(g), vs, vst, voff));
           return out;
         });
  auto& bm = base.impl()->ensure_autograd();
  bm.grad_fn = new_base_hist.grad_fn();
  bm.output_nr = new_base_hist.output_nr();
  // The view's own history now starts from the base's new history.
  Tensor fresh = as_strided(base, vs, vst, voff);
  copy_autograd_meta(self, fresh);
  (void)op;
}

}  // namespace ranvier::autograd
