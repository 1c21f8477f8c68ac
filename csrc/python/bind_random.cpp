// Random numbers: Generator, manual_seed, rand/randn/randint/randperm/bernoulli, uniform_,
// normal_, bernoulli_.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "ops/random.h"
#include <cstring>

#include "python/convert.h"

namespace ranvier::python {

namespace {
GeneratorPtr gen_arg(py::handle h) {
  if (h.is_none()) return nullptr;
  RV_CHECK_TYPE(py::isinstance<Generator>(h), "expected a ranvier.Generator, got ",
                std::string(Py_TYPE(h.ptr())->tp_name));
  return py::cast<GeneratorPtr>(h);
}
}  // namespace

void bind_random(py::module_& m, py::class_<Tensor>& cls) {
  py::class_<Generator, GeneratorPtr>(m, "Generator")
      .def(py::init([](py::handle device) {
             Device d = to_device_arg(device);
             RV_CHECK_NOT_IMPLEMENTED(d.is_cpu(), "Generator: only CPU generators are supported "
                                                  "in this build");
             return std::make_shared<Generator>();
           }),
           py::arg("device") = "cpu")
      .def("manual_seed", [](GeneratorPtr g, py::handle seed) {
        int64_t s = py::cast<int64_t>(py::reinterpret_borrow<py::object>(seed));
        g->manual_seed(uint64_t(s));
        return g;
      })
      .def("seed", &Generator::seed)
      .def("initial_seed", &Generator::initial_seed)
      .def_property_readonly("device", [](const Generator&) { return Device(); })
      .def("get_state", [](const Generator& g) {
        Tensor t = empty({16}, DType::UInt8);
        uint64_t st[2] = {g.initial_seed(), g.offset()};
        std::memcpy(t.data_ptr(), st, 16);
        return t;
      })
      .def("set_state", [](Generator& g, const Tensor& t) {
        RV_CHECK_TYPE(t.dtype() == DType::UInt8 && t.numel() == 16 && t.is_contiguous(),
                      "set_state: expected a contiguous uint8 tensor of 16 elements (from "
                      "get_state), got ", t.describe());
        uint64_t st[2];
        std::memcpy(st, t.data_ptr(), 16);
        g.set_state(st[0], st[1]);
      });
  m.def("_default_generator", [] { return default_generator(); });

  m.def("_rand", [](const Shape& s, py::handle dt, py::handle dev, py::handle g) {
    return rand(s, to_dtype_arg(dt, DType::Float32), to_device_arg(dev), gen_arg(g));
  });
  m.def("_randn", [](const Shape& s, py::handle dt, py::handle dev, py::handle g) {
    return randn(s, to_dtype_arg(dt, DType::Float32), to_device_arg(dev), gen_arg(g));
  });
  m.def("_randint", [](int64_t low, int64_t high, const Shape& s, py::handle dt, py::handle dev,
                       py::handle g) {
    return randint(low, high, s, to_dtype_arg(dt, DType::Int64), to_device_arg(dev), gen_arg(g));
  });
  m.def("_randperm", [](int64_t n, py::handle dt, py::handle dev, py::handle g) {
    return randperm(n, to_dtype_arg(dt, DType::Int64), to_device_arg(dev), gen_arg(g));
  });
  m.def("bernoulli", [](const Tensor& p, py::handle g) { return bernoulli(p, gen_arg(g)); },
        py::arg("input"), py::kw_only(), py::arg("generator") = py::none());
  cls.def("bernoulli", [](const Tensor& p, py::handle g) { return bernoulli(p, gen_arg(g)); },
          py::kw_only(), py::arg("generator") = py::none())
      .def("bernoulli_", [](Tensor& t, double p, py::handle g) -> Tensor& {
        return bernoulli_(t, p, gen_arg(g));
      }, py::arg("p") = 0.5, py::kw_only(), py::arg("generator") = py::none(),
         py::return_value_policy::reference_internal)
      .def("uniform_", [](Tensor& t, double a, double b, py::handle g) -> Tensor& {
        return uniform_(t, a, b, gen_arg(g));
      }, py::arg("from") = 0.0, py::arg("to") = 1.0, py::kw_only(),
         py::arg("generator") = py::none(), py::return_value_policy::reference_internal)
      .def("normal_", [](Tensor& t, double mean, double std, py::handle g) -> Tensor& {
        return normal_(t, mean, std, gen_arg(g));
      }, py::arg("mean") = 0.0, py::arg("std") = 1.0, py::kw_only(),
         py::arg("generator") = py::none(), py::return_value_policy::reference_internal);
}

}  // namespace ranvier::python
