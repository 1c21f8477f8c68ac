// The extension module ranvier._C: the only translation units that include pybind11 are under
// csrc/python/. Each bind_*.cpp adds one family.
#include <pybind11/pybind11.h>

#include "core/tensor.h"

namespace ranvier::python {
namespace py = pybind11;
void bind_errors(py::module_& m);
void bind_tensor(py::module_& m, py::class_<Tensor>& cls);
void bind_factory(py::module_& m, py::class_<Tensor>& cls);
void bind_numpy(py::module_& m, py::class_<Tensor>& cls);
void bind_elementwise(py::module_& m, py::class_<Tensor>& cls);
void bind_unary(py::module_& m, py::class_<Tensor>& cls);
void bind_reduce(py::module_& m, py::class_<Tensor>& cls);
void bind_shape(py::module_& m, py::class_<Tensor>& cls);
void bind_getitem(py::module_& m, py::class_<Tensor>& cls);
void bind_autograd(py::module_& m, py::class_<Tensor>& cls);
void bind_matmul(py::module_& m, py::class_<Tensor>& cls);
void bind_indexing(py::module_& m, py::class_<Tensor>& cls);
void bind_random(py::module_& m, py::class_<Tensor>& cls);
void bind_dlpack(py::module_& m, py::class_<Tensor>& cls);
void bind_conv(py::module_& m, py::class_<Tensor>& cls);
void bind_nn_loss(py::module_& m, py::class_<Tensor>& cls);
void bind_norm(py::module_& m, py::class_<Tensor>& cls);
void bind_attention(py::module_& m, py::class_<Tensor>& cls);
void bind_optim(py::module_& m, py::class_<Tensor>& cls);
void bind_serialize(py::module_& m);
void bind_upsample(py::module_& m, py::class_<Tensor>& cls);
void bind_rnn(py::module_& m, py::class_<Tensor>& cls);
void bind_cuda(py::module_& m, py::class_<Tensor>& cls);
void bind_amp(py::module_& m, py::class_<Tensor>& cls);
void install_fast_operators(py::class_<Tensor>& cls);
void bind_module_base(py::module_& m);
}  // namespace ranvier::python

PYBIND11_MODULE(_C, m) {
  using namespace ranvier::python;
  m.doc() = "ranvier core: tensors, ops and autograd";
  py::class_<ranvier::Tensor> cls(m, "Tensor", py::dynamic_attr());
  bind_errors(m);
  bind_tensor(m, cls);
  bind_factory(m, cls);
  bind_numpy(m, cls);
  bind_elementwise(m, cls);
  bind_unary(m, cls);
  bind_reduce(m, cls);
  bind_shape(m, cls);
  bind_getitem(m, cls);
  bind_autograd(m, cls);
  bind_matmul(m, cls);
  bind_indexing(m, cls);
  bind_random(m, cls);
  bind_dlpack(m, cls);
  bind_conv(m, cls);
  bind_nn_loss(m, cls);
  bind_norm(m, cls);
  bind_attention(m, cls);
  bind_optim(m, cls);
  bind_serialize(m);
  bind_upsample(m, cls);
  bind_rnn(m, cls);
  bind_cuda(m, cls);
  bind_amp(m, cls);
  install_fast_operators(cls);  // after bind_elementwise: wraps its operator slots
  bind_module_base(m);
}
