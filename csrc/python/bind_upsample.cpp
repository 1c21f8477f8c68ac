// Bindings for the upsample family (_C._upsample, wrapped by nn.functional.interpolate) and the
// CTC loss (_C._ctc_loss, wrapped by nn.functional.ctc_loss).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/error.h"
#include "ops/ctc.h"
#include "ops/upsample.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {
UpsampleMode parse_mode(const std::string& m) {
  if (m == "nearest") return UpsampleMode::Nearest;
  if (m == "nearest-exact") return UpsampleMode::NearestExact;
  if (m == "linear") return UpsampleMode::Linear;
  if (m == "cubic") return UpsampleMode::Cubic;
  if (m == "area") return UpsampleMode::Area;
  if (m == "linear-aa") return UpsampleMode::LinearAA;
  if (m == "cubic-aa") return UpsampleMode::CubicAA;
  throw_error(ErrorKind::Value, str_cat("upsample: unknown mode '", m, "'"));
}
}  // namespace

void bind_upsample(py::module_& m, py::class_<Tensor>& cls) {
  m.def("_upsample",
        [](const Tensor& input, const std::string& mode, py::handle size, bool align_corners,
           std::vector<double> scales) {
          return upsample(input, parse_mode(mode), to_shape(size, "interpolate"), align_corners,
                          scales);
        },
        py::arg("input"), py::arg("mode"), py::arg("output_size"), py::arg("align_corners"),
        py::arg("scales"));
  m.def("_upsample_backward",
        [](const Tensor& grad, const std::string& mode, py::handle size, bool align_corners,
           std::vector<double> scales) {
          return upsample_backward(grad, parse_mode(mode), to_shape(size, "interpolate"),
                                   align_corners, scales);
        },
        py::arg("grad"), py::arg("mode"), py::arg("input_size"), py::arg("align_corners"),
        py::arg("scales"));
  m.def("_ctc_loss",
        [](const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
           const Tensor& target_lengths, int64_t blank, const std::string& reduction,
           bool zero_infinity) {
          return ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                          parse_reduction(reduction, "ctc_loss"), zero_infinity);
        },
        py::arg("log_probs"), py::arg("targets"), py::arg("input_lengths"),
        py::arg("target_lengths"), py::arg("blank") = 0, py::arg("reduction") = "mean",
        py::arg("zero_infinity") = false);
}

}  // namespace ranvier::python
