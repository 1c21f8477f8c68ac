// Recording a differentiable op: record() builds a FunctionNode whose backward is a lambda
// written beside the op's forward (Principle 5: written with ops, so it is differentiable
// again). The lambda gets a BackwardContext with the output gradients, the saved tensors and
// which inputs need a gradient, and returns one gradient per input (undefined where none).
//
//   if (autograd::needs_grad({a, b})) {
//     autograd::record("MulBackward0", {a, b}, {&out}, {a, b}, {}, [](BackwardContext& c) {
//       return TensorList{c.needs(0) ? mul(c.grad(), c.saved(1)) : Tensor(),
//                         c.needs(1) ? mul(c.grad(), c.saved(0)) : Tensor()};
//     });
//   }
#pragma once
#include <utility>
#include <vector>

#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/saved_tensor.h"

namespace ranvier::autograd {

class BackwardContext {
 public:
  BackwardContext(const TensorList& grads, const std::vector<SavedTensor>& saved,
                  const std::vector<bool>& needs, std::shared_ptr<Node> self)
      : grads_(grads), saved_(saved), needs_(needs), self_(std::move(self)) {}
  // Gradient of forward output i (zeros if it received none while another output did).
  const Tensor& grad(size_t i = 0) const { return grads_[i]; }
  // The i-th saved tensor (saved inputs first, then saved outputs, in record() order).
  Tensor saved(size_t i) const { return saved_[i].unpack(self_); }
  // Whether input i needs a gradient.
  bool needs(size_t i) const { return needs_[i]; }
  size_t num_grads() const { return grads_.size(); }
  size_t num_saved() const { return saved_.size(); }

 private:
  const TensorList& grads_;
  const std::vector<SavedTensor>& saved_;
  const std::vector<bool>& needs_;
  std::shared_ptr<Node> self_;
};

// True when grad mode is on and any of the tensors requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches `node` as the grad_fn of t (as its next output slot).
void set_history(Tensor& t, const std::shared_ptr<Node>& node);

// Fills undefined gradients with zeros of the output's shape (when at least one is defined).
void fill_missing_grads(TensorList& grads, const std::vector<InputMeta>& metas);

template <typename F>
struct FunctionNode final : Node {
  FunctionNode(const char* n, F&& f) : name_(n), fn_(std::move(f)) {}
  std::string name() const override { return name_; }
  void release_saved() override {
    for (auto& s : saved) s.release();
  }
  TensorList apply(TensorList&& grads) override {
    bool any = false;
    for (auto& g : grads) any = any || g.defined();
    if (!any) return TensorList(next_edges.size());
    fill_missing_grads(grads, input_metas);
    BackwardContext ctx(grads, saved, needs, shared_from_this());
    TensorList out = fn_(ctx);
    out.resize(next_edges.size());
    return out;
  }
  std::vector<SavedTensor> saved;
  std::vector<bool> needs;

 private:
  const char* name_;
  F fn_;
};

// Records a differentiable op; see the example at the top of this file.
template <typename F>
std::shared_ptr<Node> record(const char* name, const std::vector<Tensor>& inputs,
                             const std::vector<Tensor*>& outputs,
                             const std::vector<Tensor>& saved_inputs,
                             const std::vector<Tensor*>& saved_outputs, F&& fn) {
  auto node = std::make_shared<FunctionNode<std::decay_t<F>>>(name, std::forward<F>(fn));
  node->next_edges.reserve(inputs.size());
  node->needs.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge e = t.defined() ? gradient_edge(t) : Edge();
    node->needs.push_back(e.valid());
    node->next_edges.push_back(std::move(e));
  }
  for (Tensor* o : outputs) set_history(*o, node);
  node->saved.reserve(saved_inputs.size() + saved_outputs.size());
  for (const Tensor& t : saved_inputs) node->saved.emplace_back(t, false);
  for (Tensor* o : saved_outputs) node->saved.emplace_back(*o, true);
  return node;
}

}  // namespace ranvier::autograd
