// SavedTensor: a tensor kept by a Node for its backward. It remembers the version of the
// data when saved and refuses to unpack if the data was modified in place since
// (Note [Version counter]). A saved forward *output* keeps only a detached alias plus a weak
// link to its grad_fn, so that output -> grad_fn -> saved output is not a reference cycle.
#pragma once
#include <memory>

#include "core/tensor.h"

namespace ranvier::autograd {

struct Node;

class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);

  // The saved tensor, with its autograd history; `owner` is the node holding it.
  Tensor unpack(const std::shared_ptr<Node>& owner) const;
  void release();
  bool defined() const { return defined_; }
  // Whether unpack() would succeed: not released, and the data not modified since saved.
  bool is_current() const { return defined_ && !released_ && data_.version() == saved_version_; }

 private:
  Tensor data_;
  uint32_t saved_version_ = 0;
  uint32_t output_nr_ = 0;
  bool defined_ = false;
  bool is_output_ = false;
  bool requires_grad_ = false;
  bool released_ = false;
};

}  // namespace ranvier::autograd
