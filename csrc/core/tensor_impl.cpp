// TensorImpl construction and the Tensor handle's accessors.
#include "core/tensor_impl.h"

#include "autograd/autograd_meta.h"
#include "autograd/node.h"
#include "core/tensor.h"

namespace ranvier {

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage, Shape sizes, Shape strides,
                       int64_t offset, DType dtype)
    : storage_(std::move(storage)),
      sizes_(std::move(sizes)),
      strides_(std::move(strides)),
      offset_(offset),
      numel_(shape_numel(sizes_)),
      dtype_(dtype),
      contiguous_(strides_are_contiguous(sizes_, strides_)) {}

TensorImpl::~TensorImpl() = default;

void TensorImpl::set_geometry(Shape sizes, Shape strides, int64_t offset) {
  sizes_ = std::move(sizes);
  strides_ = std::move(strides);
  offset_ = offset;
  numel_ = shape_numel(sizes_);
  contiguous_ = strides_are_contiguous(sizes_, strides_);
}

void TensorImpl::set_data(const TensorImpl& other) {
  storage_ = other.storage_;
  dtype_ = other.dtype_;
  set_geometry(other.sizes_, other.strides_, other.offset_);
  view_base_ = other.view_base_;
}

autograd::AutogradMeta& TensorImpl::ensure_autograd() {
  if (!autograd_) autograd_ = std::make_unique<autograd::AutogradMeta>();
  return *autograd_;
}

void TensorImpl::clear_autograd() { autograd_.reset(); }

int64_t Tensor::size(int64_t d) const { return sizes()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::requires_grad() const {
  auto* m = impl_->autograd();
  return m && (m->requires_grad || m->grad_fn);
}

Tensor& Tensor::set_requires_grad(bool value) {
  auto* m = impl_->autograd();
  if (m && m->grad_fn) {
    RV_CHECK(value, "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach().");
    return *this;
  }
  if (value) {
    RV_CHECK(is_floating(dtype()), "only Tensors of floating point dtype can require gradients "
                                   "(got ", dtype_name(dtype()), ")");
    impl_->ensure_autograd().requires_grad = true;
  } else if (m) {
    m->requires_grad = false;
  }
  return *this;
}

Tensor Tensor::grad() const {
  auto* m = impl_->autograd();
  return m ? m->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (!g.defined()) {
    if (impl_->autograd()) impl_->autograd()->grad = Tensor();
    return;
  }
  RV_CHECK_TYPE(g.dtype() == dtype(), "assigned grad has data of a different type (",
                dtype_name(g.dtype()), " vs ", dtype_name(dtype()), ")");
  RV_CHECK(g.sizes() == sizes(), "assigned grad has data of a different size (",
           shape_str(g.sizes()), " vs ", shape_str(sizes()), ")");
  RV_CHECK(g.device() == device(), "assigned grad is on a different device (", g.device().str(),
           " vs ", device().str(), ")");
  impl_->ensure_autograd().grad = g;
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  auto* m = impl_->autograd();
  return m ? m->grad_fn : nullptr;
}

uint32_t Tensor::output_nr() const {
  auto* m = impl_->autograd();
  return m ? m->output_nr : 0;
}

bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return str_cat("tensor of shape ", shape_str(sizes()), " and dtype ", dtype_name(dtype()));
}

Tensor empty(const Shape& sizes, DType dtype, Device device) {
  check_shape(sizes, "empty");
  int64_t n = shape_numel(sizes);
  auto storage = Storage::allocate(size_t(n) * element_size(dtype), device);
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), sizes, contiguous_strides(sizes),
                                             0, dtype));
}

Tensor empty_contiguous_like(const Tensor& t) {
  // t's sizes were checked when t was made: no check_shape, and numel is known.
  auto storage = Storage::allocate(size_t(t.numel()) * element_size(t.dtype()), t.device());
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), t.sizes(),
                                             contiguous_strides(t.sizes()), 0, t.dtype()));
}

Tensor empty_strided(const Shape& sizes, const Shape& strides, DType dtype, Device device) {
  check_shape(sizes, "empty_strided");
  RV_CHECK_VALUE(sizes.size() == strides.size(), "empty_strided: sizes ", shape_str(sizes),
                 " and strides ", shape_str(strides), " have different lengths");
  int64_t extent = 1;
  bool any_zero = false;
  for (size_t i = 0; i < sizes.size(); ++i) {
    RV_CHECK_VALUE(strides[i] >= 0, "empty_strided: negative stride in ", shape_str(strides));
    if (sizes[i] == 0) any_zero = true;
    extent += (sizes[i] - 1) * strides[i];
  }
  if (any_zero) extent = 0;
  auto storage = Storage::allocate(size_t(extent) * element_size(dtype), device);
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), sizes, strides, 0, dtype));
}

Tensor make_view(const Tensor& t, Shape sizes, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>(t.impl()->storage(), std::move(sizes),
                                           std::move(strides), offset, t.dtype());
  const auto& base = t.impl()->view_base();
  impl->set_view_base(base ? base : t.impl_ptr());
  return Tensor(std::move(impl));
}

}  // namespace ranvier
