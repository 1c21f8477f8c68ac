// AutogradMeta: the per-tensor autograd record, allocated only for tensors that require grad
// or were produced by a recorded op.
#pragma once
#include <memory>
#include <vector>

#include "autograd/node.h"
#include "core/tensor.h"

namespace ranvier::autograd {

struct AutogradMeta {
  bool requires_grad = false;  // set on leaves by the user
  bool retains_grad = false;
  uint32_t output_nr = 0;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  std::weak_ptr<Node> grad_accumulator;
  std::vector<GradHook> leaf_hooks;  // run by the accumulator of a leaf before accumulating
};

}  // namespace ranvier::autograd
