// AccumulateGrad (see accumulate_grad.h).
#include "autograd/accumulate_grad.h"

#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "ops/binary.h"
#include "ops/copy.h"

namespace ranvier::autograd {

std::shared_ptr<Node> grad_accumulator(const Tensor& leaf) {
  auto& m = leaf.impl()->ensure_autograd();
  if (auto acc = m.grad_accumulator.lock()) return acc;
  auto acc = std::make_shared<AccumulateGrad>(leaf);
  acc->add_input_meta(leaf);
  m.grad_accumulator = acc;
  return acc;
}

TensorList AccumulateGrad::apply(TensorList&& grads) {
  Tensor g = std::move(grads[0]);
  if (!g.defined()) return {};
  auto& m = variable.impl()->ensure_autograd();
  for (auto& hook : m.leaf_hooks) {
    Tensor r = hook(g);
    if (r.defined()) g = r;
  }
  if (!m.grad.defined()) {
    // Without create_graph the stored gradient carries no history, and it is later updated
    // in place, so it may only take over g's memory when nothing else can see that memory.
    if (GradMode::is_enabled()) {
      m.grad = g;
    } else {
      bool sole_owner = g.impl_ptr().use_count() == 1 && g.impl()->storage().use_count() == 1 &&
                        g.is_contiguous() && !g.is_view();
      m.grad = sole_owner ? detach(g) : contiguous_clone(detach(g));
    }
  } else if (GradMode::is_enabled()) {
    m.grad = add(m.grad, g);
  } else {
    add_(m.grad, g);
  }
  return {};
}

}  // namespace ranvier::autograd
