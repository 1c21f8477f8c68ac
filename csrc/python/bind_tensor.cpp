// The Tensor class itself: metadata properties, dtype and device types, autograd attributes.
// Ops are added to the class by the other bind_*.cpp files.
#include <pybind11/pybind11.h>

#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "core/cpu_allocator.h"
#include "core/cpu_capability.h"
#include "core/half.h"
#include "core/parallel.h"
#include "ops/copy.h"
#include "python/convert.h"

namespace ranvier::python {

void bind_tensor(py::module_& m, py::class_<Tensor>& cls) {
  py::enum_<DType> dt(m, "dtype");
#define RV_DT_VALUE(cpp, name, pyname, shortname) dt.value(pyname, DType::name);
  RV_FORALL_DTYPES(RV_DT_VALUE)
#undef RV_DT_VALUE
  dt.def("__repr__", [](DType d) { return std::string("ranvier.") + dtype_name(d); })
      .def("__str__", [](DType d) { return std::string("ranvier.") + dtype_name(d); })
      .def_property_readonly("is_floating_point", [](DType d) { return is_floating(d); })
      .def_property_readonly("is_signed", [](DType d) {
        return d != DType::UInt8 && d != DType::Bool;
      })
      .def_property_readonly("itemsize", [](DType d) { return element_size(d); });

  py::class_<Device>(m, "device")
      .def(py::init([](py::handle h, py::handle index) {
             Device d = to_device_arg(h);
             if (!index.is_none()) d.index = int16_t(py::cast<int>(index));
             return d;
           }),
           py::arg("type"), py::arg("index") = py::none())
      .def_property_readonly("type", [](const Device& d) { return device_type_name(d.type); })
      .def_property_readonly("index", [](const Device& d) -> py::object {
        if (d.is_cpu()) return py::none();
        return py::int_(d.index);
      })
      .def("__eq__", [](const Device& a, py::handle b) {
        if (py::isinstance<py::str>(b)) return a == parse_device(py::cast<std::string>(b));
        if (py::isinstance<Device>(b)) return a == py::cast<Device>(b);
        return false;
      })
      .def("__hash__", [](const Device& d) { return int(d.type) * 1000 + d.index; })
      .def("__str__", &Device::str)
      .def("__repr__", [](const Device& d) {
        if (d.is_cpu()) return std::string("device(type='cpu')");
        return str_cat("device(type='cuda', index=", d.index, ")");
      });

  // Tensor(): empty float32; Tensor(t): an alias of t without history; Tensor(2, 3): an
  // uninitialised float32 tensor of that size; Tensor(data): float32 values of a nested list.
  cls.def(py::init([](py::args args) {
    if (args.size() == 0) return empty({0}, DType::Float32);
    if (args.size() == 1 && is_tensor(args[0])) return detach(py::cast<const Tensor&>(args[0]));
    bool all_ints = true;
    for (py::handle a : args) all_ints = all_ints && PyLong_Check(a.ptr()) && !PyBool_Check(a.ptr());
    if (all_ints) return empty(shape_from_args(args, "Tensor"), DType::Float32);
    RV_CHECK_TYPE(args.size() == 1, "Tensor(): expected sizes, a tensor or a sequence of numbers");
    py::object tensor_fn = py::module_::import("ranvier").attr("tensor");
    return py::cast<Tensor>(tensor_fn(args[0], py::arg("dtype") = DType::Float32));
  }));

  cls.def_property_readonly("shape", [](const Tensor& t) { return make_size(t.sizes()); })
      .def("size", [](const Tensor& t, py::handle dim) -> py::object {
            if (dim.is_none()) return make_size(t.sizes());
            return py::int_(t.size(py::cast<int64_t>(dim)));
          }, py::arg("dim") = py::none())
      .def("stride", [](const Tensor& t, py::handle dim) -> py::object {
            if (dim.is_none()) {
              py::tuple r(t.dim());
              for (int64_t i = 0; i < t.dim(); ++i) r[i] = py::int_(t.strides()[i]);
              return std::move(r);
            }
            return py::int_(t.stride(py::cast<int64_t>(dim)));
          }, py::arg("dim") = py::none())
      .def("dim", &Tensor::dim)
      .def("ndimension", &Tensor::dim)
      .def_property_readonly("ndim", &Tensor::dim)
      .def("numel", &Tensor::numel)
      .def("nelement", &Tensor::numel)
      .def("element_size", &Tensor::element_size)
      .def("__len__", [](const Tensor& t) {
        RV_CHECK_TYPE(t.dim() > 0, "len() of a 0-d tensor");
        return t.sizes()[0];
      })
      .def_property_readonly("dtype", &Tensor::dtype)
      .def_property_readonly("device", &Tensor::device)
      .def_property_readonly("is_cuda", [](const Tensor& t) { return t.device().is_cuda(); })
      .def_property_readonly("is_cpu", [](const Tensor& t) { return t.device().is_cpu(); })
      .def("is_floating_point", &Tensor::is_floating_point)
      .def("is_contiguous", [](const Tensor& t, py::handle) { return t.is_contiguous(); },
           py::arg("memory_format") = py::none())
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()); })
      .def("storage_offset", &Tensor::storage_offset)
      .def("get_device", [](const Tensor& t) { return t.device().is_cpu() ? -1 : t.device().index; })
      .def_property_readonly("_version", &Tensor::version)
      .def_property_readonly("_base", [](const Tensor& t) -> py::object {
        if (!t.is_view()) return py::none();
        return py::cast(Tensor(t.impl()->view_base()));
      })
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def_property("requires_grad", &Tensor::requires_grad,
                    [](Tensor& t, bool v) { t.set_requires_grad(v); })
      .def("requires_grad_", [](Tensor& t, bool v) -> Tensor& { return t.set_requires_grad(v); },
           py::arg("requires_grad") = true, py::return_value_policy::reference_internal)
      .def_property("grad", [](const Tensor& t) -> py::object {
            Tensor g = t.grad();
            if (!g.defined()) return py::none();
            return py::cast(g);
          },
          [](Tensor& t, py::handle g) {
            if (g.is_none()) t.set_grad(Tensor());
            else t.set_grad(py::cast<Tensor>(g));
          })
      .def_property_readonly("retains_grad", [](const Tensor& t) {
        auto* m = t.impl()->autograd();
        return m && m->retains_grad;
      })
      .def_property_readonly("output_nr", &Tensor::output_nr)
      .def("detach", [](const Tensor& t) { return detach(t); })
      .def_property("data", [](const Tensor& t) { return detach(t); },
                    [](Tensor& t, const Tensor& other) {
                      t.impl()->set_data(*other.impl());
                    })
      .def("detach_", [](Tensor& t) -> Tensor& {
            auto* m = t.impl()->autograd();
            if (m) {
              m->grad_fn = nullptr;
              m->requires_grad = false;
            }
            return t;
          }, py::return_value_policy::reference_internal)
      .def("__hash__", [](py::handle self) { return py::hash(py::int_(reinterpret_cast<uintptr_t>(self.ptr()))); })
      .def("item", [](const Tensor& t) -> py::object {
        // The one element as a Python number, read in place (no copy, no NumPy).
        RV_CHECK(t.numel() == 1, "a Tensor with ", t.numel(),
                 " elements cannot be converted to Scalar");
        // A CUDA tensor's element is copied to the host first (its memory is not readable here).
        Tensor host = t.device().is_cpu() ? t : to_device(t, Device());
        const void* p = host.data_ptr();
        switch (t.dtype()) {
          case DType::Float32: return py::float_(double(*static_cast<const float*>(p)));
          case DType::Float64: return py::float_(*static_cast<const double*>(p));
          case DType::Float16: return py::float_(double(float(*static_cast<const Half*>(p))));
          case DType::BFloat16:
            return py::float_(double(float(*static_cast<const BFloat16*>(p))));
          case DType::Int64: return py::int_(*static_cast<const int64_t*>(p));
          case DType::Int32: return py::int_(*static_cast<const int32_t*>(p));
          case DType::UInt8: return py::int_(*static_cast<const uint8_t*>(p));
          case DType::Bool: return py::bool_(*static_cast<const bool*>(p));
        }
        return py::none();
      })
      .def("__bool__", [](const Tensor& t) {
        RV_CHECK(t.numel() == 1, "Boolean value of Tensor with more than one value is ambiguous");
        Tensor c = to_dtype(detach(t), DType::Bool);
        if (!c.device().is_cpu()) c = to_device(c, Device());
        return *contiguous_clone(c).data<bool>();
      });

  m.def("_set_size_type", &set_size_type);
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads);
  m.def("_cpu_capability", [] { return cpu_capability_name(cpu_capability()); },
        "the SIMD level the CPU kernels use (Note [CPU capability])");
  m.def("_cpu_capability_supported",
        [] { return cpu_capability_name(cpu_capability_supported()); },
        "the widest SIMD level this CPU supports");

  // The CPU block cache (Note [CPU block cache]); ranvier.cpu wraps these.
  m.def("_cpu_memory_stats", [] {
    cpu_alloc::Stats s = cpu_alloc::stats();
    py::dict d;
    d["allocated_bytes"] = s.allocated;
    d["peak_allocated_bytes"] = s.peak_allocated;
    d["reserved_bytes"] = s.reserved;
    d["cached_blocks"] = s.cached_blocks;
    d["cache_enabled"] = cpu_alloc::cache_enabled();
    return d;
  });
  m.def("_cpu_empty_cache", &cpu_alloc::empty_cache);
  m.def("_cpu_reset_peak_memory_stats", &cpu_alloc::reset_peak);
  m.def("_cpu_cache_hold_lock_for_testing", [](double seconds) {
    py::gil_scoped_release nogil;
    cpu_alloc::hold_lock_for_testing(seconds);
  });
}

}  // namespace ranvier::python
