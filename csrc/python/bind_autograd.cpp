// Autograd from Python: backward, autograd.grad, grad mode, grad_fn nodes, hooks, and the
// copy/dtype-conversion methods that are autograd-aware.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "autograd/accumulate_grad.h"
#include "autograd/autograd_meta.h"
#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "python/convert.h"

namespace ranvier::python {

using autograd::Node;

namespace {

std::vector<Tensor> tensor_list(py::handle h) {
  std::vector<Tensor> r;
  if (h.is_none()) return r;
  if (is_tensor(h)) return {py::cast<Tensor>(h)};
  for (py::handle e : h) r.push_back(e.is_none() ? Tensor() : py::cast<Tensor>(e));
  return r;
}

// Wraps a Python hook so that it runs with the GIL and may return None.
autograd::GradHook python_hook(py::function fn) {
  auto holder = std::make_shared<py::function>(std::move(fn));
  return [holder](const Tensor& g) -> Tensor {
    py::gil_scoped_acquire gil;
    py::object r = (*holder)(g);
    if (r.is_none()) return Tensor();
    RV_CHECK_TYPE(is_tensor(r), "hook: a gradient hook must return a Tensor or None");
    return py::cast<Tensor>(r);
  };
}

// A removable handle for a registered hook.
struct HookHandle {
  std::function<void()> remover;
  void remove() {
    if (remover) remover();
    remover = nullptr;
  }
};

}  // namespace

void bind_autograd(py::module_& m, py::class_<Tensor>& cls) {
  py::class_<Node, std::shared_ptr<Node>>(m, "Node")
      .def("name", &Node::name)
      .def("__repr__", [](const Node& n) { return str_cat("<", n.name(), " object>"); })
      .def_property_readonly("next_functions", [](const Node& n) {
        py::tuple t(n.next_edges.size());
        for (size_t i = 0; i < n.next_edges.size(); ++i) {
          const auto& e = n.next_edges[i];
          t[i] = py::make_tuple(e.fn ? py::cast(e.fn) : py::none(), e.input_nr);
        }
        return t;
      })
      .def_property_readonly("variable", [](const Node& n) -> py::object {
        if (auto* acc = dynamic_cast<const autograd::AccumulateGrad*>(&n))
          return py::cast(acc->variable);
        throw py::attribute_error("only AccumulateGrad nodes have a variable");
      })
      .def_property_readonly("_sequence_nr", [](const Node& n) { return n.sequence_nr; });

  py::class_<HookHandle>(m, "RemovableHandle").def("remove", &HookHandle::remove);

  cls.def_property_readonly("grad_fn", [](const Tensor& t) -> py::object {
       auto fn = t.grad_fn();
       if (!fn) return py::none();
       return py::cast(fn);
     })
      .def("backward", [](const Tensor& t, py::handle gradient, py::handle retain,
                          bool create_graph, py::handle inputs) {
        std::vector<Tensor> g;
        if (!gradient.is_none()) g.push_back(py::cast<Tensor>(gradient));
        bool keep = retain.is_none() ? create_graph : py::cast<bool>(retain);
        autograd::backward({t}, g, keep, create_graph, tensor_list(inputs));
      }, py::arg("gradient") = py::none(), py::arg("retain_graph") = py::none(),
         py::arg("create_graph") = false, py::arg("inputs") = py::none())
      .def("register_hook", [](Tensor& t, py::function fn) {
        RV_CHECK(t.requires_grad(), "cannot register a hook on a tensor that doesn't require "
                                    "gradient");
        auto hook = python_hook(std::move(fn));
        HookHandle h;
        if (auto node = t.grad_fn()) {
          uint32_t nr = t.output_nr();
          node->pre_hooks.emplace_back(nr, hook);
          size_t idx = node->pre_hooks.size() - 1;
          std::weak_ptr<Node> w = node;
          h.remover = [w, idx] {
            if (auto n = w.lock()) n->pre_hooks[idx].second = [](const Tensor&) { return Tensor(); };
          };
        } else {
          auto& meta = t.impl()->ensure_autograd();
          meta.leaf_hooks.push_back(hook);
          size_t idx = meta.leaf_hooks.size() - 1;
          std::weak_ptr<TensorImpl> w = t.impl_ptr();
          h.remover = [w, idx] {
            if (auto impl = w.lock())
              impl->ensure_autograd().leaf_hooks[idx] = [](const Tensor&) { return Tensor(); };
          };
        }
        return h;
      })
      .def("retain_grad", [](Tensor& t) {
        RV_CHECK(t.requires_grad(), "can't retain_grad on Tensor that has requires_grad=False");
        auto node = t.grad_fn();
        if (!node) return;  // leaves keep their grad anyway
        auto& meta = t.impl()->ensure_autograd();
        if (meta.retains_grad) return;
        meta.retains_grad = true;
        std::weak_ptr<TensorImpl> w = t.impl_ptr();
        node->pre_hooks.emplace_back(t.output_nr(), [w](const Tensor& g) -> Tensor {
          auto impl = w.lock();
          if (!impl) return Tensor();
          auto& mm = impl->ensure_autograd();
          if (!mm.grad.defined()) mm.grad = contiguous_clone(detach(g));
          else mm.grad = add(mm.grad, detach(g));
          return Tensor();
        });
      })
      .def("_to_dtype", [](const Tensor& t, DType d, bool copy) { return to_dtype(t, d, copy); },
           py::arg("dtype"), py::arg("copy") = false)
      .def("copy_", [](Tensor& t, const Tensor& src, bool) -> Tensor& { return copy_(t, src); },
           py::arg("src"), py::arg("non_blocking") = false,
           py::return_value_policy::reference_internal)
      .def("fill_", [](Tensor& t, py::handle v) -> Tensor& {
        return fill_(t, to_scalar(v, "fill_"));
      }, py::return_value_policy::reference_internal)
      .def("zero_", [](Tensor& t) -> Tensor& { return fill_(t, Scalar(int64_t(0))); },
           py::return_value_policy::reference_internal);

  m.def("_backward", [](py::handle outputs, py::handle grads, bool retain, bool create,
                        py::handle inputs) {
    autograd::backward(tensor_list(outputs), tensor_list(grads), retain, create,
                       tensor_list(inputs));
  });
  m.def("_grad", [](py::handle outputs, py::handle inputs, py::handle grads, bool retain,
                    bool create, bool allow_unused) {
    std::vector<Tensor> r = autograd::grad(tensor_list(outputs), tensor_list(grads),
                                           tensor_list(inputs), retain, create, allow_unused);
    py::tuple t(r.size());
    for (size_t i = 0; i < r.size(); ++i) t[i] = r[i].defined() ? py::cast(r[i]) : py::none();
    return t;
  });
  m.def("is_grad_enabled", &autograd::GradMode::is_enabled);
  m.def("_set_grad_enabled", &autograd::GradMode::set_enabled);
  m.def("is_inference_mode_enabled", &autograd::InferenceMode::is_enabled);
  m.def("_set_inference_mode", &autograd::InferenceMode::set_enabled);
}

}  // namespace ranvier::python
