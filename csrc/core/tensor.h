// Tensor: a cheap handle (one shared_ptr) to a TensorImpl. Copying a Tensor aliases the same
// data; ops live as free functions in namespace ranvier (ops/*.h, gathered in ranvier.h).
#pragma once
#include <memory>
#include <string>

#include "core/tensor_impl.h"

namespace ranvier {
namespace autograd {
struct Node;
}

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  const Shape& sizes() const { return impl_->sizes(); }
  const Shape& shape() const { return impl_->sizes(); }
  const Shape& strides() const { return impl_->strides(); }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return impl_->dim(); }
  int64_t numel() const { return impl_->numel(); }
  DType dtype() const { return impl_->dtype(); }
  Device device() const { return impl_->device(); }
  int64_t storage_offset() const { return impl_->offset(); }
  bool is_contiguous() const { return impl_->is_contiguous(); }
  bool is_floating_point() const { return is_floating(dtype()); }
  size_t element_size() const { return ranvier::element_size(dtype()); }
  void* data_ptr() const { return impl_->data(); }
  template <typename T> T* data() const { return static_cast<T*>(impl_->data()); }
  uint32_t version() const { return impl_->storage()->version(); }
  void bump_version() const { impl_->storage()->bump_version(); }
  bool is_view() const { return impl_->view_base() != nullptr; }

  // Autograd state (see autograd/autograd_meta.h).
  bool requires_grad() const;
  Tensor& set_requires_grad(bool value);
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  std::shared_ptr<autograd::Node> grad_fn() const;
  uint32_t output_nr() const;
  bool is_leaf() const;

  // "tensor of shape [2, 3] float32" style description for error messages.
  std::string describe() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Allocates an uninitialised contiguous tensor.
Tensor empty(const Shape& sizes, DType dtype = DType::Float32, Device device = Device());
// Allocates an uninitialised tensor with the given strides (storage sized to fit them).
Tensor empty_strided(const Shape& sizes, const Shape& strides, DType dtype, Device device);
// A new contiguous tensor with t's sizes, dtype and device (contents uninitialised).
Tensor empty_contiguous_like(const Tensor& t);
// A view of t's storage with new geometry; records t's root as the view base.
Tensor make_view(const Tensor& t, Shape sizes, Shape strides, int64_t offset);

}  // namespace ranvier
