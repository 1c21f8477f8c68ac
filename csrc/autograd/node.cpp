// Node bookkeeping, iterative teardown and the recording helpers of function.h.
#include "autograd/node.h"

#include <atomic>

#include "autograd/accumulate_grad.h"
#include "autograd/autograd_meta.h"
#include "autograd/function.h"
#include "ops/factory.h"

namespace ranvier::autograd {

namespace {
std::atomic<uint64_t> g_next_sequence_nr{0};
thread_local bool t_tearing_down = false;
thread_local std::vector<std::shared_ptr<Node>> t_pending;
}  // namespace

Node::Node() : sequence_nr(g_next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

Node::~Node() {
  // Note [Iterative graph teardown]: keep the next nodes alive on a stack while this node's
  // members (which may hold the last other references, e.g. through saved tensors) go away,
  // then free them one by one here instead of recursively.
  for (auto& e : next_edges)
    if (e.fn) t_pending.push_back(std::move(e.fn));
  if (t_tearing_down) return;
  t_tearing_down = true;
  while (!t_pending.empty()) {
    std::shared_ptr<Node> n = std::move(t_pending.back());
    t_pending.pop_back();
    n.reset();
  }
  t_tearing_down = false;
}

uint32_t Node::add_input_meta(const Tensor& t) {
  input_metas.push_back(InputMeta{t.sizes(), t.dtype(), t.device()});
  return uint32_t(input_metas.size() - 1);
}

Edge gradient_edge(const Tensor& t) {
  auto* m = t.impl()->autograd();
  if (!m) return Edge();
  if (m->grad_fn) return Edge(m->grad_fn, m->output_nr);
  if (m->requires_grad) return Edge(grad_accumulator(t), 0);
  return Edge();
}

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void set_history(Tensor& t, const std::shared_ptr<Node>& node) {
  auto& m = t.impl()->ensure_autograd();
  m.grad_fn = node;
  m.output_nr = node->add_input_meta(t);
}

void fill_missing_grads(TensorList& grads, const std::vector<InputMeta>& metas) {
  for (size_t i = 0; i < grads.size() && i < metas.size(); ++i)
    if (!grads[i].defined()) grads[i] = zeros(metas[i].sizes, metas[i].dtype, metas[i].device);
}

}  // namespace ranvier::autograd
