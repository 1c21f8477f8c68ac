// View, joining and shape ops: Tensor methods and ranvier.* functions.
#include <pybind11/pybind11.h>

#include "ops/copy.h"
#include "ops/join.h"
#include "ops/misc_shape.h"
#include "ops/shape.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {

int64_t int_arg(py::handle h, const char* op) {
  RV_CHECK_TYPE(PyLong_Check(h.ptr()) && !PyBool_Check(h.ptr()), op,
                "(): expected an int, but got ", std::string(Py_TYPE(h.ptr())->tp_name));
  return py::cast<int64_t>(h);
}

py::tuple to_tuple(const std::vector<Tensor>& v) {
  py::tuple t(v.size());
  for (size_t i = 0; i < v.size(); ++i) t[i] = py::cast(v[i]);
  return t;
}

std::vector<Tensor> tensor_seq(py::handle h, const char* op) {
  RV_CHECK_TYPE(!is_tensor(h) && py::isinstance<py::sequence>(h), op,
                "(): argument 'tensors' must be a tuple or list of Tensors, not ",
                std::string(Py_TYPE(h.ptr())->tp_name));
  std::vector<Tensor> r;
  for (py::handle e : h) {
    RV_CHECK_TYPE(is_tensor(e), op, "(): expected a sequence of Tensors, but found an element "
                  "of type ", std::string(Py_TYPE(e.ptr())->tp_name));
    r.push_back(py::cast<Tensor>(e));
  }
  return r;
}

py::tuple split_any(const Tensor& t, py::handle s, int64_t dim) {
  if (PyLong_Check(s.ptr())) return to_tuple(split(t, py::cast<int64_t>(s), dim));
  return to_tuple(split_with_sizes(t, to_shape(s, "split"), dim));
}

py::tuple tensor_split_any(const Tensor& t, py::handle s, int64_t dim) {
  if (PyLong_Check(s.ptr())) return to_tuple(tensor_split(t, py::cast<int64_t>(s), dim));
  if (is_tensor(s)) {
    Tensor x = py::cast<Tensor>(s);
    x = to_device(detach(x), Device());  // the split points, on the host
    if (x.dim() == 0) {
      Tensor c = contiguous_clone(to_dtype(detach(x), DType::Int64));
      return to_tuple(tensor_split(t, *c.data<int64_t>(), dim));
    }
    Tensor c = contiguous_clone(to_dtype(detach(x), DType::Int64));
    std::vector<int64_t> v(c.data<int64_t>(), c.data<int64_t>() + c.numel());
    return to_tuple(tensor_split_indices(t, v, dim));
  }
  return to_tuple(tensor_split_indices(t, to_shape(s, "tensor_split"), dim));
}

Tensor squeeze_any(const Tensor& t, py::handle dim) {
  return dim.is_none() ? squeeze(t) : squeeze(t, to_dims(dim, "squeeze"));
}

Tensor movedim_any(const Tensor& t, py::handle s, py::handle d) {
  return movedim(t, to_dims(s, "movedim"), to_dims(d, "movedim"));
}

std::vector<int64_t> dims_from_args(const py::args& a, const char* op) {
  if (a.size() == 1 && !PyLong_Check(a[0].ptr())) return to_dims(a[0], op);
  return shape_from_args(a, op);
}

Tensor pad_any(const Tensor& t, py::handle p, const std::string& mode, py::handle value) {
  Scalar v = value.is_none() ? Scalar(0.0) : to_scalar(value, "pad");
  return pad(t, to_shape(p, "pad"), mode, v);
}

}  // namespace

void bind_shape(py::module_& m, py::class_<Tensor>& cls) {
  cls.def("view", [](const Tensor& t, py::args a) { return view(t, shape_from_args(a, "view")); })
      .def("view_as", [](const Tensor& t, const Tensor& o) { return view(t, o.sizes()); })
      .def("reshape", [](const Tensor& t, py::args a) {
        return reshape(t, shape_from_args(a, "reshape"));
      })
      .def("reshape_as", [](const Tensor& t, const Tensor& o) { return reshape(t, o.sizes()); })
      .def("expand", [](const Tensor& t, py::args a) {
        return expand(t, shape_from_args(a, "expand"));
      })
      .def("expand_as", [](const Tensor& t, const Tensor& o) { return expand_as(t, o); })
      .def("permute", [](const Tensor& t, py::args a) {
        return permute(t, shape_from_args(a, "permute"));
      })
      .def("transpose", [](const Tensor& t, int64_t a, int64_t b) { return transpose(t, a, b); })
      .def("swapaxes", [](const Tensor& t, int64_t a, int64_t b) { return transpose(t, a, b); })
      .def("swapdims", [](const Tensor& t, int64_t a, int64_t b) { return transpose(t, a, b); })
      .def("t", [](const Tensor& x) { return t(x); })
      .def_property_readonly("T", [](const Tensor& x) {
        std::vector<int64_t> p(x.dim());
        for (int64_t i = 0; i < x.dim(); ++i) p[i] = x.dim() - 1 - i;
        return permute(x, p);
      })
      .def_property_readonly("mT", [](const Tensor& x) { return mT(x); })
      .def("squeeze", &squeeze_any, py::arg("dim") = py::none())
      .def("unsqueeze", [](const Tensor& t, int64_t d) { return unsqueeze(t, d); })
      .def("flatten", [](const Tensor& t, int64_t s, int64_t e) { return flatten(t, s, e); },
           py::arg("start_dim") = 0, py::arg("end_dim") = -1)
      .def("unflatten", [](const Tensor& t, int64_t d, py::handle s) {
        return unflatten(t, d, to_shape(s, "unflatten"));
      }, py::arg("dim"), py::arg("sizes"))
      .def("movedim", &movedim_any, py::arg("source"), py::arg("destination"))
      .def("moveaxis", &movedim_any, py::arg("source"), py::arg("destination"))
      .def("narrow", [](const Tensor& t, int64_t d, int64_t s, int64_t l) {
        return narrow(t, d, s, l);
      }, py::arg("dim"), py::arg("start"), py::arg("length"))
      .def("select", [](const Tensor& t, int64_t d, int64_t i) { return select(t, d, i); },
           py::arg("dim"), py::arg("index"))
      .def("unbind", [](const Tensor& t, int64_t d) { return to_tuple(unbind(t, d)); },
           py::arg("dim") = 0)
      .def("split", &split_any, py::arg("split_size"), py::arg("dim") = 0)
      .def("chunk", [](const Tensor& t, int64_t c, int64_t d) { return to_tuple(chunk(t, c, d)); },
           py::arg("chunks"), py::arg("dim") = 0)
      .def("tensor_split", &tensor_split_any, py::arg("indices_or_sections"), py::arg("dim") = 0)
      .def("as_strided", [](const Tensor& t, py::handle size, py::handle stride, py::handle off) {
        return as_strided(t, to_shape(size, "as_strided"), to_shape(stride, "as_strided"),
                          off.is_none() ? t.storage_offset() : int_arg(off, "as_strided"));
      }, py::arg("size"), py::arg("stride"), py::arg("storage_offset") = py::none())
      .def("contiguous", [](const Tensor& t, py::handle) { return contiguous(t); },
           py::arg("memory_format") = py::none())
      .def("clone", [](const Tensor& t, py::handle) { return clone(t); },
           py::arg("memory_format") = py::none())
      .def("tril", [](const Tensor& t, int64_t k) { return tril(t, k); }, py::arg("diagonal") = 0)
      .def("triu", [](const Tensor& t, int64_t k) { return triu(t, k); }, py::arg("diagonal") = 0)
      .def("flip", [](const Tensor& t, py::args a) { return flip(t, dims_from_args(a, "flip")); })
      .def("roll", [](const Tensor& t, py::handle s, py::handle d) {
        return roll(t, to_dims(s, "roll"), to_dims(d, "roll"));
      }, py::arg("shifts"), py::arg("dims") = py::none())
      .def("repeat", [](const Tensor& t, py::args a) {
        return repeat(t, shape_from_args(a, "repeat"));
      })
      .def("tile", [](const Tensor& t, py::args a) { return tile(t, shape_from_args(a, "tile")); });

  m.def("reshape", [](const Tensor& t, py::handle s) { return reshape(t, to_shape(s, "reshape")); },
        py::arg("input"), py::arg("shape"));
  m.def("permute", [](const Tensor& t, py::handle s) { return permute(t, to_shape(s, "permute")); },
        py::arg("input"), py::arg("dims"));
  for (const char* name : {"transpose", "swapaxes", "swapdims"})
    m.def(name, [](const Tensor& t, int64_t a, int64_t b) { return transpose(t, a, b); });
  m.def("t", [](const Tensor& x) { return t(x); });
  m.def("squeeze", &squeeze_any, py::arg("input"), py::arg("dim") = py::none());
  m.def("unsqueeze", [](const Tensor& t, int64_t d) { return unsqueeze(t, d); },
        py::arg("input"), py::arg("dim"));
  m.def("flatten", [](const Tensor& t, int64_t s, int64_t e) { return flatten(t, s, e); },
        py::arg("input"), py::arg("start_dim") = 0, py::arg("end_dim") = -1);
  m.def("unflatten", [](const Tensor& t, int64_t d, py::handle s) {
    return unflatten(t, d, to_shape(s, "unflatten"));
  }, py::arg("input"), py::arg("dim"), py::arg("sizes"));
  m.def("movedim", &movedim_any, py::arg("input"), py::arg("source"), py::arg("destination"));
  m.def("moveaxis", &movedim_any, py::arg("input"), py::arg("source"), py::arg("destination"));
  m.def("narrow", [](const Tensor& t, int64_t d, int64_t s, int64_t l) {
    return narrow(t, d, s, l);
  }, py::arg("input"), py::arg("dim"), py::arg("start"), py::arg("length"));
  m.def("select", [](const Tensor& t, int64_t d, int64_t i) { return select(t, d, i); },
        py::arg("input"), py::arg("dim"), py::arg("index"));
  m.def("unbind", [](const Tensor& t, int64_t d) { return to_tuple(unbind(t, d)); },
        py::arg("input"), py::arg("dim") = 0);
  m.def("split", &split_any, py::arg("tensor"), py::arg("split_size_or_sections"),
        py::arg("dim") = 0);
  m.def("chunk", [](const Tensor& t, int64_t c, int64_t d) { return to_tuple(chunk(t, c, d)); },
        py::arg("input"), py::arg("chunks"), py::arg("dim") = 0);
  m.def("tensor_split", &tensor_split_any, py::arg("input"), py::arg("indices_or_sections"),
        py::arg("dim") = 0);
  m.def("as_strided", [](const Tensor& t, py::handle size, py::handle stride, py::handle off) {
    return as_strided(t, to_shape(size, "as_strided"), to_shape(stride, "as_strided"),
                      off.is_none() ? t.storage_offset() : int_arg(off, "as_strided"));
  }, py::arg("input"), py::arg("size"), py::arg("stride"), py::arg("storage_offset") = py::none());
  m.def("clone", [](const Tensor& t, py::handle) { return clone(t); }, py::arg("input"),
        py::kw_only(), py::arg("memory_format") = py::none());
  for (const char* name : {"cat", "concat", "concatenate"})
    m.def(name, [](py::handle ts, int64_t d) { return cat(tensor_seq(ts, "cat"), d); },
          py::arg("tensors"), py::arg("dim") = 0);
  m.def("stack", [](py::handle ts, int64_t d) { return stack(tensor_seq(ts, "stack"), d); },
        py::arg("tensors"), py::arg("dim") = 0);
  m.def("hstack", [](py::handle ts) { return hstack(tensor_seq(ts, "hstack")); },
        py::arg("tensors"));
  m.def("vstack", [](py::handle ts) { return vstack(tensor_seq(ts, "vstack")); },
        py::arg("tensors"));
  m.def("tril", [](const Tensor& t, int64_t k) { return tril(t, k); }, py::arg("input"),
        py::arg("diagonal") = 0);
  m.def("triu", [](const Tensor& t, int64_t k) { return triu(t, k); }, py::arg("input"),
        py::arg("diagonal") = 0);
  m.def("flip", [](const Tensor& t, py::handle d) { return flip(t, to_dims(d, "flip")); },
        py::arg("input"), py::arg("dims"));
  m.def("roll", [](const Tensor& t, py::handle s, py::handle d) {
    return roll(t, to_dims(s, "roll"), to_dims(d, "roll"));
  }, py::arg("input"), py::arg("shifts"), py::arg("dims") = py::none());
  m.def("tile", [](const Tensor& t, py::handle d) { return tile(t, to_shape(d, "tile")); },
        py::arg("input"), py::arg("dims"));
  m.def("pad", &pad_any, py::arg("input"), py::arg("pad"), py::arg("mode") = "constant",
        py::arg("value") = py::none());
  m.def("_one_hot", [](const Tensor& t, int64_t n) { return one_hot(t, n); }, py::arg("tensor"),
        py::arg("num_classes") = -1);
}

}  // namespace ranvier::python
