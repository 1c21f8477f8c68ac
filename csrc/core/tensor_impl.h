// TensorImpl: the refcounted body of a tensor: storage, sizes, strides, element offset, dtype,
// and an autograd record that stays null while no gradient is needed (Principle 1).
#pragma once
#include <memory>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace ranvier {
namespace autograd {
struct AutogradMeta;
}

class TensorImpl {
 public:
  TensorImpl(std::shared_ptr<Storage> storage, Shape sizes, Shape strides, int64_t offset,
             DType dtype);
  ~TensorImpl();

  const std::shared_ptr<Storage>& storage() const { return storage_; }
  const Shape& sizes() const { return sizes_; }
  const Shape& strides() const { return strides_; }
  int64_t offset() const { return offset_; }
  int64_t numel() const { return numel_; }
  int64_t dim() const { return int64_t(sizes_.size()); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_->device(); }
  bool is_contiguous() const { return contiguous_; }
  void* data() const {
    return static_cast<char*>(storage_->data()) + offset_ * int64_t(element_size(dtype_));
  }

  // Changes the geometry in place (used by resize and as_strided_ style ops).
  void set_geometry(Shape sizes, Shape strides, int64_t offset);
  // Makes this tensor use other's data: storage, geometry and dtype (`t.data = other`).
  void set_data(const TensorImpl& other);

  // Autograd record; null means "no autograd information".
  autograd::AutogradMeta* autograd() const { return autograd_.get(); }
  autograd::AutogradMeta& ensure_autograd();
  void clear_autograd();

  // A view shares its base's storage; view_base is the tensor it was made from (the root),
  // used when an in-place op with autograd writes through the view.
  const std::shared_ptr<TensorImpl>& view_base() const { return view_base_; }
  void set_view_base(std::shared_ptr<TensorImpl> base) { view_base_ = std::move(base); }

  // A Python number turned into a 0-d tensor; it takes part in promotion only by category.
  bool is_wrapped_number() const { return wrapped_number_; }
  void set_wrapped_number(bool v) { wrapped_number_ = v; }

 private:
  std::shared_ptr<Storage> storage_;
  Shape sizes_;
  Shape strides_;
  int64_t offset_;
  int64_t numel_;
  DType dtype_;
  bool contiguous_;
  bool wrapped_number_ = false;
  std::unique_ptr<autograd::AutogradMeta> autograd_;
  std::shared_ptr<TensorImpl> view_base_;
};

}  // namespace ranvier
