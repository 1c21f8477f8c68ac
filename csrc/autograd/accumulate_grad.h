// AccumulateGrad: the node at the end of every path to a leaf that requires grad. It runs the
// leaf's hooks, then adds the incoming gradient into leaf.grad.
#pragma once
#include "autograd/node.h"

namespace ranvier::autograd {

struct AccumulateGrad final : Node {
  explicit AccumulateGrad(Tensor leaf) : variable(std::move(leaf)) {}
  std::string name() const override { return "AccumulateGrad"; }
  TensorList apply(TensorList&& grads) override;
  Tensor variable;
};

// The leaf's accumulator, created on first use and cached (weakly) in its AutogradMeta.
std::shared_ptr<Node> grad_accumulator(const Tensor& leaf);

}  // namespace ranvier::autograd
