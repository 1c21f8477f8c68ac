// SavedTensor (see saved_tensor.h).
#include "autograd/saved_tensor.h"

#include "autograd/autograd_meta.h"

namespace ranvier::autograd {

SavedTensor::SavedTensor(const Tensor& t, bool is_output) {
  if (!t.defined()) return;
  defined_ = true;
  is_output_ = is_output;
  saved_version_ = t.version();
  requires_grad_ = t.requires_grad();
  if (is_output) {
    output_nr_ = t.output_nr();
    auto impl = std::make_shared<TensorImpl>(t.impl()->storage(), t.sizes(), t.strides(),
                                             t.storage_offset(), t.dtype());
    data_ = Tensor(std::move(impl));
  } else {
    data_ = t;
  }
}

Tensor SavedTensor::unpack(const std::shared_ptr<Node>& owner) const {
  if (!defined_) return Tensor();
  RV_CHECK(!released_,
           "Trying to backward through the graph a second time (or directly access saved "
           "tensors after they have already been freed). Saved intermediate values of the graph "
           "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
           "you need to backward through the graph a second time or if you need to access saved "
           "tensors after calling backward.");
  uint32_t now = data_.version();
  RV_CHECK(now == saved_version_,
           "one of the variables needed for gradient computation has been modified by an "
           "inplace operation: [", dtype_short_name(data_.dtype()), "Tensor ",
           shape_str(data_.sizes()), "], which is output ", output_nr_, " of ",
           owner ? owner->name() : std::string("a node"), ", is at version ", now,
           "; expected version ", saved_version_, " instead.");
  if (!is_output_ || !requires_grad_) return data_;
  // Re-attach the output's history so that double backward can flow through it.
  auto impl = std::make_shared<TensorImpl>(data_.impl()->storage(), data_.sizes(),
                                           data_.strides(), data_.storage_offset(),
                                           data_.dtype());
  auto& m = impl->ensure_autograd();
  m.grad_fn = owner;
  m.output_nr = output_nr_;
  return Tensor(std::move(impl));
}

void SavedTensor::release() {
  if (!defined_) return;
  data_ = Tensor();
  released_ = true;
}

}  // namespace ranvier::autograd
