// Bindings for mixed precision: the autocast state and hooks (python/autocast.cpp) and the
// GradScaler ops _C._amp_foreach_non_finite_check_and_unscale_ / _C._amp_update_scale_
// (ops/amp.h), used by python/ranvier/amp/.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "ops/amp.h"
#include "python/autocast.h"
#include "python/convert.h"

namespace ranvier::python {

void bind_amp(py::module_& m, py::class_<Tensor>&) {
  autocast::bind(m);
  m.def("_amp_foreach_non_finite_check_and_unscale_",
        [](py::handle grads, Tensor found_inf, const Tensor& inv_scale) {
          const char* op = "_amp_foreach_non_finite_check_and_unscale_";
          RV_CHECK_TYPE(py::isinstance<py::list>(grads) || py::isinstance<py::tuple>(grads), op,
                        ": grads must be a list of tensors, got ",
                        std::string(py::str(py::type::of(grads))));
          std::vector<Tensor> gs;
          for (py::handle g : grads) {
            RV_CHECK_TYPE(is_tensor(g), op, ": grads must be a list of tensors, got an element "
                          "of type ", std::string(py::str(py::type::of(g))));
            gs.push_back(py::cast<Tensor>(g));
          }
          amp_foreach_non_finite_check_and_unscale_(gs, found_inf, inv_scale);
        },
        py::arg("grads"), py::arg("found_inf"), py::arg("inv_scale"));
  m.def("_amp_update_scale_",
        [](Tensor scale, Tensor growth_tracker, const Tensor& found_inf, double growth_factor,
           double backoff_factor, int64_t growth_interval) {
          return amp_update_scale_(scale, growth_tracker, found_inf, growth_factor,
                                   backoff_factor, growth_interval);
        },
        py::arg("scale"), py::arg("growth_tracker"), py::arg("found_inf"),
        py::arg("growth_factor"), py::arg("backoff_factor"), py::arg("growth_interval"));
}

}  // namespace ranvier::python
