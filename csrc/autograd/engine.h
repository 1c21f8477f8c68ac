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

// For a node's apply(): true when the gradient it is about to send along `e` will be seen by
// nothing but e's node itself. That is, a backward is running on this thread, e's node has
// no other pending or delivered gradient, no hooks, and is not one of autograd.grad's inputs.
// An op may then hand that node's own work (and its gradient) to a cheaper equivalent; see
// Note [Embedding projection] in ops/embedding.h.
bool gradient_is_private(const Edge& e);

}  // namespace ranvier::autograd
