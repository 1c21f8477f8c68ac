// The backward engine (see engine.h).
//
// Algorithm: (1) walk the graph from the roots with an explicit stack, counting for every node
// how many edges point at it; (2) when only some inputs are wanted (autograd.grad, or
// backward(inputs=...)), mark the nodes that lie on a path to them and ignore the rest;
// (3) run ready nodes (all their incoming gradients summed), newest first (a max-heap on
// sequence_nr) among those that are ready.
#include "autograd/engine.h"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "autograd/accumulate_grad.h"
#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/reduce.h"

namespace ranvier::autograd {

namespace {

struct Capture {
  Node* node;
  uint32_t slot;
  size_t index;  // position in the result
};

struct NodeState {
  int dependencies = 0;
  bool needed = true;
  TensorList buffer;
};

// What gradient_is_private() sees of the backward running on this thread.
struct RunView {
  const std::unordered_map<Node*, NodeState>* state;
  const std::unordered_set<Node*>* targets;
};
thread_local const RunView* tls_run = nullptr;

// Publishes a run to gradient_is_private() for its lifetime (restoring an enclosing run's
// view, for a backward started from inside a hook).
class RunScope {
 public:
  explicit RunScope(const RunView* v) : prev_(tls_run) { tls_run = v; }
  ~RunScope() { tls_run = prev_; }
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;

 private:
  const RunView* prev_;
};

// Makes an incoming gradient match the slot's metadata: same dtype, and summed down when it
// came back broadcast.
Tensor validate_grad(Tensor g, const InputMeta& meta, const Node& node) {
  if (g.sizes() != meta.sizes) {
    RV_CHECK(shape_numel(meta.sizes) == g.numel() || g.dim() >= int64_t(meta.sizes.size()),
             "backward: function ", node.name(), " returned a gradient of shape ",
             shape_str(g.sizes()), " for an input of shape ", shape_str(meta.sizes));
    g = sum_to_size(g, meta.sizes);
  }
  if (g.dtype() != meta.dtype) g = to_dtype(g, meta.dtype);
  return g;
}

std::vector<Tensor> run_backward(const std::vector<Tensor>& outputs,
                                 const std::vector<Tensor>& grad_outputs, bool retain_graph,
                                 bool create_graph, const std::vector<Tensor>& inputs,
                                 bool capture_inputs, bool allow_unused) {
  RV_CHECK_VALUE(grad_outputs.empty() || grad_outputs.size() == outputs.size(),
                 "backward: got ", grad_outputs.size(), " gradients for ", outputs.size(),
                 " outputs");
  GradModeGuard mode(create_graph);

  // Roots.
  std::vector<std::pair<Edge, Tensor>> roots;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    RV_CHECK_VALUE(out.defined(), "backward: got an undefined output tensor");
    RV_CHECK(out.requires_grad(), "element ", i,
             " of tensors does not require grad and does not have a grad_fn");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      RV_CHECK(out.numel() == 1, "grad can be implicitly created only for scalar outputs (got "
                                 "an output of shape ", shape_str(out.sizes()), ")");
      g = ones_like(out);
    } else {
      RV_CHECK(g.sizes() == out.sizes(), "backward: mismatch in shape: grad_output[", i,
               "] has a shape of ", shape_str(g.sizes()), " and output[", i,
               "] has a shape of ", shape_str(out.sizes()));
      RV_CHECK(g.device() == out.device(), "backward: grad_output[", i, "] is on ",
               g.device().str(), " but output[", i, "] is on ", out.device().str());
    }
    roots.emplace_back(gradient_edge(out), g);
  }

  // Where the wanted gradients are collected.
  std::vector<Capture> captures;
  std::vector<Tensor> results(capture_inputs ? inputs.size() : 0);
  std::unordered_set<Node*> targets;
  std::vector<std::shared_ptr<Node>> keep_alive;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    RV_CHECK_VALUE(t.defined(), "grad: got an undefined input tensor");
    RV_CHECK(t.requires_grad(), "One of the differentiated Tensors does not require grad");
    Edge e = gradient_edge(t);
    keep_alive.push_back(e.fn);
    targets.insert(e.fn.get());
    if (capture_inputs) captures.push_back(Capture{e.fn.get(), e.input_nr, i});
  }

  // (1) discover the graph.
  std::unordered_map<Node*, NodeState> state;
  std::vector<Node*> order;  // discovery order
  {
    std::vector<Node*> stack;
    for (auto& r : roots) {
      Node* n = r.first.fn.get();
      if (n && state.emplace(n, NodeState{}).second) {
        stack.push_back(n);
        order.push_back(n);
      }
    }
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (auto& e : n->next_edges) {
        if (!e.fn) continue;
        Node* c = e.fn.get();
        if (state.emplace(c, NodeState{}).second) {
          stack.push_back(c);
          order.push_back(c);
        }
      }
    }
  }

  // (2) count the edges into each node, and with targets keep only the nodes that lead to
  // one: walk a topological order (Kahn) backwards, so that children are decided first.
  for (Node* n : order)
    for (auto& e : n->next_edges)
      if (e.fn) state[e.fn.get()].dependencies++;
  if (!targets.empty()) {
    std::vector<Node*> topo;
    std::unordered_map<Node*, int> pending;
    for (Node* n : order) pending[n] = state[n].dependencies;
    for (Node* n : order)
      if (pending[n] == 0) topo.push_back(n);
    for (size_t i = 0; i < topo.size(); ++i)
      for (auto& e : topo[i]->next_edges)
        if (e.fn && --pending[e.fn.get()] == 0) topo.push_back(e.fn.get());
    for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
      Node* n = *it;
      bool needed = targets.count(n) > 0;
      for (auto& e : n->next_edges)
        if (e.fn && state[e.fn.get()].needed) needed = true;
      state[n].needed = needed;
    }
    for (Node* n : order) state[n].dependencies = 0;
    for (Node* n : order) {
      if (!state[n].needed) continue;
      for (auto& e : n->next_edges)
        if (e.fn && state[e.fn.get()].needed) state[e.fn.get()].dependencies++;
    }
  }

  // Seed the buffers with the root gradients.
  auto add_to_buffer = [&](Node* n, uint32_t slot, Tensor g) {
    NodeState& s = state[n];
    if (s.buffer.empty()) s.buffer.resize(n->num_outputs());
    RV_INTERNAL_ASSERT(slot < s.buffer.size(), "gradient slot out of range in ", n->name());
    g = validate_grad(std::move(g), n->input_metas[slot], *n);
    Tensor& b = s.buffer[slot];
    if (!b.defined()) {
      b = std::move(g);
    } else if (!GradMode::is_enabled() && b.sizes() == g.sizes() && b.dtype() == g.dtype() &&
               b.device() == g.device() && sole_owner_of_memory(b)) {
      // (a second path's gradient, summed into the first's memory when nothing else sees it:
      // no new block; Note [Gradient buffer reuse] in docs/design.md)
      add_(b, g);
    } else {
      b = add(b, g);
    }
  };
  for (auto& r : roots)
    if (r.first.fn) add_to_buffer(r.first.fn.get(), r.first.input_nr, r.second);

  auto cmp = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
  for (auto& r : roots) {
    Node* n = r.first.fn.get();
    if (n && state[n].needed && state[n].dependencies == 0) {
      state[n].dependencies = -1;  // queued
      ready.push(n);
    }
  }

  // (3) run.
  RunView view{&state, &targets};
  RunScope scope(&view);
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    NodeState& s = state[n];
    TensorList grads = std::move(s.buffer);
    grads.resize(n->num_outputs());
    for (auto& h : n->pre_hooks) {
      Tensor& g = grads[h.first];
      if (!g.defined()) continue;
      Tensor r = h.second(g);
      if (r.defined()) g = r;
    }
    bool is_target = targets.count(n) > 0;
    if (is_target && capture_inputs) {
      for (auto& c : captures)
        if (c.node == n) {
          Tensor g = grads[c.slot];
          results[c.index] = results[c.index].defined() && g.defined() ? add(results[c.index], g)
                                                                         : g;
        }
    }
    // When capturing, an accumulator that is a target is not run (no .grad is touched).
    bool run = !(capture_inputs && dynamic_cast<AccumulateGrad*>(n) != nullptr);
    if (run && is_target && capture_inputs) {
      run = false;  // captured; run it only if it also leads to another target
      for (auto& e : n->next_edges)
        if (e.fn && state[e.fn.get()].needed) run = true;
    }
    TensorList out;
    if (run) {
      TensorList grads_copy;
      if (!n->post_hooks.empty()) grads_copy = grads;
      out = n->apply(std::move(grads));
      for (auto& h : n->post_hooks) h(out, grads_copy);
      if (!retain_graph) n->release_saved();
    }
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      const Edge& e = n->next_edges[i];
      if (!e.fn) continue;
      NodeState& cs = state[e.fn.get()];
      if (!cs.needed) continue;
      if (i < out.size() && out[i].defined()) add_to_buffer(e.fn.get(), e.input_nr, out[i]);
      if (--cs.dependencies == 0) {
        cs.dependencies = -1;
        ready.push(e.fn.get());
      }
    }
  }

  if (capture_inputs) {
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i].defined()) {
        RV_CHECK(allow_unused, "One of the differentiated Tensors appears to not have been used "
                               "in the graph. Set allow_unused=True if this is the desired "
                               "behavior.");
      } else if (!create_graph) {
        results[i] = detach(results[i]);
      }
    }
  }
  return results;
}

}  // namespace

bool gradient_is_private(const Edge& e) {
  const RunView* run = tls_run;
  if (!run || !e.fn) return false;
  Node* n = e.fn.get();
  auto it = run->state->find(n);
  if (it == run->state->end()) return false;
  const NodeState& s = it->second;
  // dependencies counts the edges still to deliver, the caller's included.
  if (!s.needed || s.dependencies != 1 || run->targets->count(n)) return false;
  for (const Tensor& b : s.buffer)
    if (b.defined()) return false;
  return n->pre_hooks.empty() && n->post_hooks.empty();
}

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool retain_graph, bool create_graph, const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs)
    RV_CHECK_VALUE(t.defined() && t.is_leaf(),
                   "backward: the tensors given as inputs= must be leaves that require grad");
  run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs, false, true);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs,
                         const std::vector<Tensor>& grad_outputs,
                         const std::vector<Tensor>& inputs, bool retain_graph, bool create_graph,
                         bool allow_unused) {
  RV_CHECK_VALUE(!inputs.empty(), "grad requires at least one input");
  return run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs, true,
                      allow_unused);
}

}  // namespace ranvier::autograd
