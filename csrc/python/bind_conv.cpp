// Bindings of the convolution and pooling kernels' ops (private names under _C; the public
// functions live in python/ranvier/nn/_functional_conv.py). Pairs arrive as 2-tuples.
#include <pybind11/pybind11.h>

#include "ops/conv.h"
#include "ops/pool.h"
#include "python/convert.h"

namespace ranvier::python {

void bind_conv(py::module_& m, py::class_<Tensor>& cls) {
  (void)cls;
  m.def("_im2col", &im2col, py::arg("input"), py::arg("kernel_size"), py::arg("dilation"),
        py::arg("padding"), py::arg("stride"));
  m.def("_col2im", &col2im, py::arg("input"), py::arg("output_size"), py::arg("kernel_size"),
        py::arg("dilation"), py::arg("padding"), py::arg("stride"));
  m.def("_max_pool2d_indices", &max_pool2d_indices, py::arg("input"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"));
  m.def("_adaptive_max_pool2d_indices", &adaptive_max_pool2d_indices, py::arg("input"),
        py::arg("output_size"));
}

}  // namespace ranvier::python
