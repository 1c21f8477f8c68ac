// Node: one step of the backward graph. A node is created by a differentiable op; its
// next_edges point at the nodes that produced the op's inputs (input_nr says which output of
// that node), and apply() maps the gradients of the op's outputs to those of its inputs.
// Note [Iterative graph teardown]: ~Node hands its edges to a thread-local stack so that
// freeing a 100,000-node chain does not recurse.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ranvier::autograd {

struct Node;
using TensorList = std::vector<Tensor>;

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
  Edge() = default;
  Edge(std::shared_ptr<Node> f, uint32_t nr) : fn(std::move(f)), input_nr(nr) {}
  bool valid() const { return fn != nullptr; }
};

// What a gradient flowing into a node's slot must look like (the forward output's metadata).
struct InputMeta {
  Shape sizes;
  DType dtype = DType::Float32;
  Device device;
};

// A hook on the gradient of one forward output; returns an undefined tensor to leave it as is.
using GradHook = std::function<Tensor(const Tensor&)>;

struct Node : std::enable_shared_from_this<Node> {
  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // grads[i] is the gradient of forward output i (possibly undefined = zero); returns one
  // gradient per next_edge (undefined where the input needs none).
  virtual TensorList apply(TensorList&& grads) = 0;
  virtual std::string name() const = 0;
  // Frees saved tensors after a backward pass that does not retain the graph.
  virtual void release_saved() {}

  uint32_t num_outputs() const { return uint32_t(input_metas.size()); }
  // Adds a slot for one more forward output and returns its index.
  uint32_t add_input_meta(const Tensor& t);

  std::vector<Edge> next_edges;
  std::vector<InputMeta> input_metas;
  uint64_t sequence_nr;
  // Hooks run on the gradient of forward output `first` before apply().
  std::vector<std::pair<uint32_t, GradHook>> pre_hooks;
  // Hooks that see (grad_inputs, grad_outputs) after apply() (Module full backward hooks).
  std::vector<std::function<void(const TensorList&, const TensorList&)>> post_hooks;
};

// The edge through which a gradient for t flows: its grad_fn, or the accumulator of a leaf
// that requires grad, or an invalid edge.
Edge gradient_edge(const Tensor& t);

}  // namespace ranvier::autograd
