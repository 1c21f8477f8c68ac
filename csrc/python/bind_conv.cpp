// Bindings of the convolution and pooling ops (private names under _C; the public functions
// live in python/ranvier/nn/_functional_conv.py and _functional_pool.py). Pairs arrive as
// 2-tuples; an optional bias as None.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "ops/conv.h"
#include "ops/pool.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {
Tensor opt_tensor(py::handle h) { return h.is_none() ? Tensor() : py::cast<Tensor>(h); }
}  // namespace

void bind_conv(py::module_& m, py::class_<Tensor>& cls) {
  (void)cls;
  m.def("_im2col", &im2col, py::arg("input"), py::arg("kernel_size"), py::arg("dilation"),
        py::arg("padding"), py::arg("stride"));
  m.def("_col2im", &col2im, py::arg("input"), py::arg("output_size"), py::arg("kernel_size"),
        py::arg("dilation"), py::arg("padding"), py::arg("stride"));
  m.def("_conv2d",
        [](const Tensor& input, const Tensor& weight, py::handle bias, Pair stride, Pair padding,
           Pair dilation, int64_t groups) {
          return conv2d(input, weight, opt_tensor(bias), stride, padding, dilation, groups);
        },
        py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"));
  m.def("_conv_transpose2d",
        [](const Tensor& input, const Tensor& weight, py::handle bias, Pair stride, Pair padding,
           Pair output_padding, Pair dilation, int64_t groups) {
          return conv_transpose2d(input, weight, opt_tensor(bias), stride, padding,
                                  output_padding, dilation, groups);
        },
        py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("stride"),
        py::arg("padding"), py::arg("output_padding"), py::arg("dilation"), py::arg("groups"));
  m.def("_conv2d_relu_max_pool2d",
        [](const Tensor& input, const Tensor& weight, py::handle bias, Pair padding) -> py::object {
          Tensor out = conv2d_relu_max_pool2d(input, weight, opt_tensor(bias), padding);
          return out.defined() ? py::cast(out) : py::none();
        },
        py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("padding"));
  m.def("_max_pool2d", &max_pool2d, py::arg("input"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"));
  m.def("_adaptive_max_pool2d", &adaptive_max_pool2d, py::arg("input"), py::arg("output_size"));
  m.def("_avg_pool2d", &avg_pool2d, py::arg("input"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"),
        py::arg("divisor_override"));
  m.def("_adaptive_avg_pool2d", &adaptive_avg_pool2d, py::arg("input"),
        py::arg("output_size"));
}

}  // namespace ranvier::python
