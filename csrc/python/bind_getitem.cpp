// Tensor.__getitem__ / __setitem__: NumPy-style indexing. Integers, slices (positive steps),
// None and Ellipsis make a view (select/slice/unsqueeze, so autograd sees ordinary view ops);
// integer tensors, lists and bool masks then go to index / index_put_ (advanced indexing, see
// ops/indexing.h). Like PyTorch, integers are applied as select before advanced indexing.
#include <pybind11/pybind11.h>

#include <algorithm>

#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/indexing.h"
#include "ops/shape.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {

enum class Kind { Int, Slice, None, Ellipsis, Tensor, BoolScalar };

struct Item {
  Kind kind;
  int64_t i = 0;
  py::handle obj;
  ranvier::Tensor t;
};

std::string type_name(py::handle h) { return std::string(Py_TYPE(h.ptr())->tp_name); }

Item classify(py::handle h) {
  Item it;
  it.obj = h;
  PyObject* o = h.ptr();
  if (o == Py_None) it.kind = Kind::None;
  else if (o == Py_Ellipsis) it.kind = Kind::Ellipsis;
  else if (PyBool_Check(o)) {
    it.kind = Kind::BoolScalar;
    it.i = o == Py_True;
  } else if (PySlice_Check(o)) it.kind = Kind::Slice;
  else if (is_tensor(h)) {
    it.t = py::cast<ranvier::Tensor>(h);
    DType dt = it.t.dtype();
    if (it.t.dim() == 0 && (dt == DType::Bool || dt == DType::UInt8)) {
      it.kind = Kind::BoolScalar;
      it.i = *contiguous_clone(to_dtype(to_device(detach(it.t), Device()), DType::Bool))
                  .data<bool>();
    } else if (it.t.dim() == 0 && (dt == DType::Int64 || dt == DType::Int32)) {
      // A 0-d integer tensor acts as a Python int (a view, applied before advanced indices).
      it.kind = Kind::Int;
      it.i = *contiguous_clone(to_dtype(to_device(detach(it.t), Device()), DType::Int64))
                  .data<int64_t>();
    } else {
      it.kind = Kind::Tensor;
    }
  } else if (PyLong_Check(o)) {
    it.kind = Kind::Int;
    it.i = py::cast<int64_t>(h);
  } else if (PyFloat_Check(o)) {
    throw_error(ErrorKind::Index, "only integers, slices (`:`), ellipsis (`...`), None and long "
                                  "or byte Tensors are valid indices (got float)");
  } else if (py::isinstance<py::str>(h) || py::isinstance<py::bytes>(h)) {
    throw_error(ErrorKind::Type, str_cat("only integers, slices (`:`), ellipsis (`...`), None and "
                                         "long or byte Tensors are valid indices (got ",
                                         type_name(h), ")"));
  } else if (is_number(h) || (PyIndex_Check(o) && !PyFloat_Check(o) &&
                              !py::hasattr(h, "__array_interface__"))) {
    RV_CHECK_INDEX(PyIndex_Check(o), "only integers, slices (`:`), ellipsis (`...`), None and "
                   "long or byte Tensors are valid indices (got ", type_name(h), ")");
    it.kind = Kind::Int;
    it.i = py::cast<int64_t>(h.attr("__index__")());
  } else if (py::isinstance<py::sequence>(h) || py::hasattr(h, "__array_interface__")) {
    it.kind = Kind::Tensor;
    if (py::isinstance<py::sequence>(h) && py::len(h) == 0)
      it.t = empty({0}, DType::Int64);
    else
      it.t = py::cast<ranvier::Tensor>(py::module_::import("ranvier").attr("tensor")(h));
  } else {
    throw_error(ErrorKind::Type, str_cat("only integers, slices (`:`), ellipsis (`...`), None and "
                                         "long or byte Tensors are valid indices (got ",
                                         type_name(h), ")"));
  }
  return it;
}

bool is_mask(const ranvier::Tensor& t) {
  return t.dtype() == DType::Bool || t.dtype() == DType::UInt8;
}

struct Parsed {
  ranvier::Tensor view;                 // self after the basic indices
  std::vector<ranvier::Tensor> adv;     // advanced indices for index()/index_put_ (may be empty)
};

Parsed parse(const ranvier::Tensor& self, py::handle index) {
  std::vector<Item> items;
  if (PyTuple_Check(index.ptr())) {
    for (py::handle h : index) items.push_back(classify(h));
  } else {
    items.push_back(classify(index));
  }
  int64_t consumed = 0, ellipses = 0;
  for (const Item& it : items) {
    if (it.kind == Kind::Int || it.kind == Kind::Slice) consumed += 1;
    else if (it.kind == Kind::Tensor) consumed += is_mask(it.t) ? std::max<int64_t>(it.t.dim(), 0) : 1;
    else if (it.kind == Kind::Ellipsis) ++ellipses;
  }
  RV_CHECK_INDEX(ellipses <= 1, "an index can only have a single ellipsis ('...')");
  RV_CHECK_INDEX(consumed <= self.dim(), "too many indices for tensor of dimension ", self.dim());
  ranvier::Tensor cur = self;
  int64_t dim = 0;
  std::vector<std::pair<int64_t, ranvier::Tensor>> adv;
  for (const Item& it : items) {
    switch (it.kind) {
      case Kind::Int: {
        int64_t n = cur.sizes()[dim];
        RV_CHECK_INDEX(it.i >= -n && it.i < n, "index ", it.i, " is out of bounds for dimension ",
                       dim, " with size ", n);
        cur = select(cur, dim, it.i);
        break;
      }
      case Kind::Slice: {
        Py_ssize_t start, stop, step;
        if (PySlice_Unpack(it.obj.ptr(), &start, &stop, &step) < 0) throw py::error_already_set();
        RV_CHECK_VALUE(step > 0, "step must be greater than zero");
        int64_t n = cur.sizes()[dim];
        PySlice_AdjustIndices(Py_ssize_t(n), &start, &stop, step);
        if (!(start == 0 && stop == n && step == 1)) cur = slice(cur, dim, start, stop, step);
        ++dim;
        break;
      }
      case Kind::None:
        cur = unsqueeze(cur, dim);
        ++dim;
        break;
      case Kind::Ellipsis:
        dim += self.dim() - consumed;
        break;
      case Kind::BoolScalar: {
        cur = unsqueeze(cur, dim);
        ranvier::Tensor ix = it.i ? zeros({1}, DType::Int64) : empty({0}, DType::Int64);
        adv.push_back({dim, ix});
        ++dim;
        break;
      }
      case Kind::Tensor:
        adv.push_back({dim, it.t});
        dim += is_mask(it.t) ? it.t.dim() : 1;
        break;
    }
  }
  Parsed p;
  p.view = cur;
  int64_t pos = 0;
  for (auto& [d, t] : adv) {
    while (pos < d) {
      p.adv.push_back(ranvier::Tensor());
      ++pos;
    }
    p.adv.push_back(t);
    pos += is_mask(t) ? t.dim() : 1;
  }
  return p;
}

ranvier::Tensor getitem(const ranvier::Tensor& self, py::handle index) {
  Parsed p = parse(self, index);
  if (!p.adv.empty()) return ranvier::index(p.view, p.adv);
  if (p.view.is_same(self)) return view(self, self.sizes());
  return p.view;
}

ranvier::Tensor value_tensor(const ranvier::Tensor& self, py::handle v) {
  if (is_tensor(v)) return to_dtype(py::cast<ranvier::Tensor>(v), self.dtype());
  if (is_number(v)) return scalar_tensor(to_scalar(v, "__setitem__"), self.dtype(), self.device());
  if (py::hasattr(v, "__array_interface__")) {
    ranvier::Tensor t = py::cast<ranvier::Tensor>(py::module_::import("ranvier").attr("tensor")(v));
    return to_dtype(t, self.dtype());
  }
  throw_error(ErrorKind::Type, str_cat("__setitem__: can't assign a ", type_name(v),
                                       " to a tensor of dtype ", dtype_name(self.dtype())));
}

void setitem(ranvier::Tensor& self, py::handle index, py::handle value) {
  ranvier::Tensor v = value_tensor(self, value);
  Parsed p = parse(self, index);
  // Leading size-1 dims of the value beyond the target's rank are dropped (as PyTorch does).
  while (v.dim() > 0 && v.sizes()[0] == 1 &&
         v.dim() > (p.adv.empty() ? p.view.dim() : 0))
    v = select(v, 0, 0);
  if (!p.adv.empty()) {
    index_put_(p.view, p.adv, v, false);
    return;
  }
  copy_(p.view, v);
}

}  // namespace

void bind_getitem(py::module_& m, py::class_<ranvier::Tensor>& cls) {
  (void)m;
  cls.def("__getitem__", &getitem)
      .def("__setitem__", &setitem);
}

}  // namespace ranvier::python
