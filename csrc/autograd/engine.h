// The backward engine: runs the graph behind some output tensors, in dependency order,
// without recursion (a 100,000-node chain is fine).
#pragma once
#include <vector>

#include "autograd/node.h"

namespace ranvier::autograd {

// tensor.backward(): accumulates into the .grad of the leaves (or only of `inputs` when given).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool retain_graph, bool create_graph, const std::vector<Tensor>& inputs = {});

// autograd.grad(): returns the gradients of outputs with respect to inputs, touching no .grad.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs,
                         const std::vector<Tensor>& grad_outputs,
                         const std::vector<Tensor>& inputs, bool retain_graph, bool create_graph,
                         bool allow_unused);

}  // namespace ranvier::autograd
