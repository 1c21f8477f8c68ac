// Indexing and sorting ops: gather/scatter, index_select/index_add, masked ops, nonzero, take,
// index_put_, sort/argsort/topk/unique, embedding and its projection. Tensor.__getitem__/__setitem__ are in bind_getitem.cpp.
#include <pybind11/pybind11.h>

#include "ops/copy.h"
#include "ops/embedding.h"
#include "ops/factory.h"
#include "ops/indexing.h"
#include "ops/sort.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {

// (values, indices) named tuples like torch.return_types.sort / topk.
py::object return_type(const char* name) {
  return py::module_::import("collections").attr("namedtuple")(name, py::make_tuple("values",
                                                                                    "indices"));
}
py::object& sort_type() {
  static py::object* t = new py::object(return_type("sort"));  // lives until exit
  return *t;
}
py::object& topk_type() {
  static py::object* t = new py::object(return_type("topk"));  // lives until exit
  return *t;
}

Tensor scatter_any(const Tensor& t, int64_t dim, const Tensor& index, py::handle src,
                   py::handle value, py::handle reduce) {
  RV_CHECK_NOT_IMPLEMENTED(reduce.is_none(), "scatter: the reduce argument is not supported");
  py::handle s = src.is_none() ? value : src;
  RV_CHECK_TYPE(!s.is_none(), "scatter(): expected a src tensor or a value");
  if (is_tensor(s)) return scatter(t, dim, index, py::cast<Tensor>(s));
  return scatter(t, dim, index, to_scalar(s, "scatter"));
}

Tensor& scatter_inplace(Tensor& t, int64_t dim, const Tensor& index, py::handle src,
                        py::handle value, py::handle reduce) {
  RV_CHECK_NOT_IMPLEMENTED(reduce.is_none(), "scatter_: the reduce argument is not supported");
  py::handle s = src.is_none() ? value : src;
  RV_CHECK_TYPE(!s.is_none(), "scatter_(): expected a src tensor or a value");
  if (is_tensor(s)) return scatter_(t, dim, index, py::cast<Tensor>(s));
  return scatter_(t, dim, index, to_scalar(s, "scatter_"));
}

Tensor masked_fill_any(const Tensor& t, const Tensor& mask, py::handle v) {
  if (is_tensor(v)) return masked_fill(t, mask, py::cast<Tensor>(v));
  return masked_fill(t, mask, to_scalar(v, "masked_fill"));
}

py::object nonzero_any(const Tensor& t, bool as_tuple) {
  if (!as_tuple) return py::cast(nonzero(t));
  std::vector<Tensor> v = nonzero_tuple(t);
  py::tuple r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = py::cast(v[i]);
  return std::move(r);
}

py::object sort_any(const Tensor& t, int64_t dim, bool descending, bool stable) {
  auto [v, i] = sort(t, dim, descending, stable);
  return sort_type()(v, i);
}

py::object topk_any(const Tensor& t, int64_t k, int64_t dim, bool largest, bool sorted) {
  auto [v, i] = topk(t, k, dim, largest, sorted);
  return topk_type()(v, i);
}

py::object unique_any(const Tensor& t, bool sorted, bool inv, bool counts, py::handle dim) {
  RV_CHECK_NOT_IMPLEMENTED(dim.is_none(), "unique: the dim argument is not supported");
  auto [u, i, c] = unique(t, sorted, inv, counts);
  if (!inv && !counts) return py::cast(u);
  py::list r;
  r.append(py::cast(u));
  if (inv) r.append(py::cast(i));
  if (counts) r.append(py::cast(c));
  return py::tuple(r);
}

std::vector<Tensor> index_list(py::handle h) {
  RV_CHECK_TYPE(!is_tensor(h) && py::isinstance<py::sequence>(h),
                "index_put(): indices must be a tuple of Tensors (or None), but got ",
                std::string(Py_TYPE(h.ptr())->tp_name));
  std::vector<Tensor> r;
  for (py::handle e : h) {
    RV_CHECK_TYPE(e.is_none() || is_tensor(e), "index_put(): indices must be a tuple of "
                  "Tensors (or None), but found an element of type ",
                  std::string(Py_TYPE(e.ptr())->tp_name));
    r.push_back(e.is_none() ? Tensor() : py::cast<Tensor>(e));
  }
  return r;
}

}  // namespace

void bind_indexing(py::module_& m, py::class_<Tensor>& cls) {
  m.def("_embedding", &embedding, py::arg("weight"), py::arg("indices"), py::arg("padding_idx"));
  m.def("_embedding_projection",
        [](const Tensor& x, const Tensor& w, bool swap01) -> py::object {
          Tensor y = embedding_projection(x, w, swap01);
          return y.defined() ? py::cast(y) : py::none();
        },
        py::arg("input"), py::arg("weight"), py::arg("swap01"));
  m.def("_embedding_projection_shortcuts", &embedding_projection_shortcuts);
  cls.def("gather", [](const Tensor& t, int64_t d, const Tensor& i, bool) {
       return gather(t, d, i);
     }, py::arg("dim"), py::arg("index"), py::kw_only(), py::arg("sparse_grad") = false)
      .def("scatter", &scatter_any, py::arg("dim"), py::arg("index"), py::arg("src") = py::none(),
           py::kw_only(), py::arg("value") = py::none(), py::arg("reduce") = py::none())
      .def("scatter_", &scatter_inplace, py::arg("dim"), py::arg("index"),
           py::arg("src") = py::none(), py::kw_only(), py::arg("value") = py::none(),
           py::arg("reduce") = py::none(), py::return_value_policy::reference_internal)
      .def("scatter_add", [](const Tensor& t, int64_t d, const Tensor& i, const Tensor& s) {
        return scatter_add(t, d, i, s);
      }, py::arg("dim"), py::arg("index"), py::arg("src"))
      .def("scatter_add_", [](Tensor& t, int64_t d, const Tensor& i, const Tensor& s) -> Tensor& {
        return scatter_add_(t, d, i, s);
      }, py::arg("dim"), py::arg("index"), py::arg("src"),
         py::return_value_policy::reference_internal)
      .def("index_select", [](const Tensor& t, int64_t d, const Tensor& i) {
        return index_select(t, d, i);
      }, py::arg("dim"), py::arg("index"))
      .def("index_add", [](const Tensor& t, int64_t d, const Tensor& i, const Tensor& s,
                           py::handle a) {
        return index_add(t, d, i, s, to_scalar(a, "index_add"));
      }, py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(),
         py::arg("alpha") = 1)
      .def("index_add_", [](Tensor& t, int64_t d, const Tensor& i, const Tensor& s,
                            py::handle a) -> Tensor& {
        return index_add_(t, d, i, s, to_scalar(a, "index_add_"));
      }, py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(),
         py::arg("alpha") = 1, py::return_value_policy::reference_internal)
      .def("masked_fill", &masked_fill_any, py::arg("mask"), py::arg("value"))
      .def("masked_fill_", [](Tensor& t, const Tensor& mask, py::handle v) -> Tensor& {
        if (is_tensor(v)) return masked_fill_(t, mask, py::cast<Tensor>(v));
        return masked_fill_(t, mask, to_scalar(v, "masked_fill_"));
      }, py::arg("mask"), py::arg("value"), py::return_value_policy::reference_internal)
      .def("masked_select", [](const Tensor& t, const Tensor& m) { return masked_select(t, m); },
           py::arg("mask"))
      .def("nonzero", &nonzero_any, py::kw_only(), py::arg("as_tuple") = false)
      .def("take", [](const Tensor& t, const Tensor& i) { return take(t, i); }, py::arg("index"))
      .def("index_put_", [](Tensor& t, py::handle idx, const Tensor& v, bool acc) -> Tensor& {
        return index_put_(t, index_list(idx), v, acc);
      }, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false,
         py::return_value_policy::reference_internal)
      .def("index_put", [](const Tensor& t, py::handle idx, const Tensor& v, bool acc) {
        return index_put(t, index_list(idx), v, acc);
      }, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false)
      .def("sort", &sort_any, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(),
           py::arg("stable") = false)
      .def("argsort", [](const Tensor& t, int64_t d, bool desc, bool st) {
        return argsort(t, d, desc, st);
      }, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(),
         py::arg("stable") = false)
      .def("topk", &topk_any, py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true,
           py::arg("sorted") = true)
      .def("unique", &unique_any, py::arg("sorted") = true, py::arg("return_inverse") = false,
           py::arg("return_counts") = false, py::arg("dim") = py::none());

  m.def("gather", [](const Tensor& t, int64_t d, const Tensor& i, bool) {
    return gather(t, d, i);
  }, py::arg("input"), py::arg("dim"), py::arg("index"), py::kw_only(),
     py::arg("sparse_grad") = false);
  m.def("scatter", &scatter_any, py::arg("input"), py::arg("dim"), py::arg("index"),
        py::arg("src") = py::none(), py::kw_only(), py::arg("value") = py::none(),
        py::arg("reduce") = py::none());
  m.def("scatter_add", [](const Tensor& t, int64_t d, const Tensor& i, const Tensor& s) {
    return scatter_add(t, d, i, s);
  }, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("src"));
  m.def("index_select", [](const Tensor& t, int64_t d, const Tensor& i) {
    return index_select(t, d, i);
  }, py::arg("input"), py::arg("dim"), py::arg("index"));
  m.def("index_add", [](const Tensor& t, int64_t d, const Tensor& i, const Tensor& s,
                        py::handle a) {
    return index_add(t, d, i, s, to_scalar(a, "index_add"));
  }, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(),
     py::arg("alpha") = 1);
  m.def("masked_fill", &masked_fill_any, py::arg("input"), py::arg("mask"), py::arg("value"));
  m.def("masked_select", [](const Tensor& t, const Tensor& m) { return masked_select(t, m); },
        py::arg("input"), py::arg("mask"));
  m.def("nonzero", &nonzero_any, py::arg("input"), py::kw_only(), py::arg("as_tuple") = false);
  m.def("take", [](const Tensor& t, const Tensor& i) { return take(t, i); }, py::arg("input"),
        py::arg("index"));
  // One-argument where: nonzero(as_tuple=True). pybind11 chains a later or earlier
  // three-argument ranvier.where as an overload of the same name.
  m.def("where", [](const Tensor& c) { return nonzero_any(c, true); }, py::arg("condition"));
  m.def("index_put", [](const Tensor& t, py::handle idx, const Tensor& v, bool acc) {
    return index_put(t, index_list(idx), v, acc);
  }, py::arg("input"), py::arg("indices"), py::arg("values"), py::arg("accumulate") = false);
  m.def("sort", &sort_any, py::arg("input"), py::arg("dim") = -1, py::arg("descending") = false,
        py::kw_only(), py::arg("stable") = false);
  m.def("argsort", [](const Tensor& t, int64_t d, bool desc, bool st) {
    return argsort(t, d, desc, st);
  }, py::arg("input"), py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(),
     py::arg("stable") = false);
  m.def("topk", &topk_any, py::arg("input"), py::arg("k"), py::arg("dim") = -1,
        py::arg("largest") = true, py::arg("sorted") = true);
  m.def("unique", &unique_any, py::arg("input"), py::arg("sorted") = true,
        py::arg("return_inverse") = false, py::arg("return_counts") = false,
        py::arg("dim") = py::none());
}

}  // namespace ranvier::python
