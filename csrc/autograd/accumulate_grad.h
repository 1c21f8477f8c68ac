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

// Whether nothing but g can reach g's memory, the allocator gave that memory (it is not a NumPy
// array's or a DLPack capsule's), and g covers all of it contiguously: a gradient handed to a
// backward function in that state may be overwritten by it (its result written in place), the
// engine may sum a second path's gradient into it, and a leaf's stored gradient may take the
// memory over.
bool sole_owner_of_memory(const Tensor& g);

}  // namespace ranvier::autograd
