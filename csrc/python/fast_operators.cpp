// Tensor's + - * / as CPython number slots. Python evaluates `a + b` through the type's nb_add
// slot; for a class made by pybind11 that slot looks `__add__` up in the type's dict and runs
// pybind11's argument dispatcher, which costs more than the add itself for small tensors.
// install_fast_operators() points nb_add / nb_subtract / nb_multiply / nb_true_divide at the
// functions below, which handle the common cases directly: tensor (op) tensor, and tensor
// (op) Python float or int on either side where the op allows it.
//
// Anything else (bools, NumPy scalars, other types) and every error goes to the bound
// `__add__` / `__radd__` ... methods of bind_elementwise.cpp, called the way Python's own slot
// would call them; they stay the one definition of the operators' behaviour and messages.
// Redoing a failed call there is safe because these ops change nothing before they fail.
#include <pybind11/pybind11.h>

#include <memory>
#include <type_traits>

#include "ops/binary.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {

PyTypeObject* g_tensor_type = nullptr;

// The Tensor held by a Python object of type Tensor (or a subclass such as Parameter), read
// from pybind11's instance record without going through a type caster (whose type-table
// look-ups cost more than a small add); nullptr when o is not a usable Tensor.
const Tensor* as_tensor(PyObject* o) {
  if (!PyObject_TypeCheck(o, g_tensor_type)) return nullptr;
  auto* inst = reinterpret_cast<py::detail::instance*>(o);
  if (inst->simple_layout) {
    if (!inst->simple_holder_constructed) return nullptr;
    return static_cast<const Tensor*>(inst->simple_value_holder[0]);
  }
  py::detail::make_caster<Tensor> caster;
  if (!caster.load(o, false)) return nullptr;
  return static_cast<const Tensor*>(caster.value);
}

// A Python float or int (not bool: it promotes differently), else false.
bool as_number(PyObject* o, Scalar* s) {
  if (PyFloat_CheckExact(o)) {
    *s = Scalar(PyFloat_AS_DOUBLE(o));
    return true;
  }
  if (PyLong_CheckExact(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      return false;
    }
    *s = Scalar(int64_t(v));
    return true;
  }
  return false;
}

const py::detail::type_info* g_tensor_info = nullptr;

using TensorHolder = py::class_<Tensor>::holder_type;
static_assert(std::is_same_v<TensorHolder, std::unique_ptr<Tensor>>,
              "wrap() builds Tensor's holder as a std::unique_ptr");

// A new Python Tensor owning t. py::cast would find the same type_info by typeid twice and look
// the result's address up among the live instances (a fresh result is never there); this does
// what it does for a returned value with the type_info found once at install: a new instance,
// the value moved to the heap, registered (so that in-place methods returning self find it),
// held by the class's std::unique_ptr holder.
PyObject* wrap(Tensor&& t) {
  // an empty instance until the value is in place (freed as such if allocation throws)
  auto obj =
      py::reinterpret_steal<py::object>(py::detail::make_new_instance(g_tensor_info->type));
  if (!obj) throw py::error_already_set();
  auto* inst = reinterpret_cast<py::detail::instance*>(obj.ptr());
  py::detail::value_and_holder vh(inst, g_tensor_info, 0, 0);
  auto value = std::make_unique<Tensor>(std::move(t));
  py::detail::register_instance(inst, value.get(), g_tensor_info);
  vh.set_instance_registered();
  vh.value_ptr() = value.get();
  inst->owned = true;
  new (&vh.holder<TensorHolder>()) TensorHolder(std::move(value));
  vh.set_holder_constructed();
  return obj.release().ptr();
}

// tt: tensor op tensor; ts: tensor op number; st: number op tensor (nullptr: not handled here).
struct OpFns {
  const char* method;     // "__add__"
  const char* rmethod;    // "__radd__"
  Tensor (*tt)(const Tensor&, const Tensor&);
  Tensor (*ts)(const Tensor&, const Scalar&);
  Tensor (*st)(const Tensor&, const Scalar&);
};

// type(self).<name>(self, arg): a special method looked up on the type, as Python does.
PyObject* call_special(PyObject* self, const char* name, PyObject* arg) {
  PyObject* fn = PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(self)), name);
  if (fn == nullptr) return nullptr;
  PyObject* r = PyObject_CallFunctionObjArgs(fn, self, arg, nullptr);
  Py_DECREF(fn);
  return r;
}

// What Python's generic slot does: a.<op>(b), then b.<rop>(a) if that gave NotImplemented.
PyObject* slow_binary(const OpFns& f, PyObject* a, PyObject* b) {
  if (PyObject_TypeCheck(a, g_tensor_type)) {
    PyObject* r = call_special(a, f.method, b);
    if (r != Py_NotImplemented) return r;
    Py_DECREF(r);
  }
  if (PyObject_TypeCheck(b, g_tensor_type)) return call_special(b, f.rmethod, a);
  Py_RETURN_NOTIMPLEMENTED;
}

template <const OpFns& F>
PyObject* fast_binary(PyObject* a, PyObject* b) {
  try {
    const Tensor* ta = as_tensor(a);
    const Tensor* tb = as_tensor(b);
    Scalar s;
    if (ta && tb) return wrap(F.tt(*ta, *tb));
    if (ta && as_number(b, &s)) return wrap(F.ts(*ta, s));
    if (tb && F.st && as_number(a, &s)) return wrap(F.st(*tb, s));
  } catch (...) {
    // fall through: the bound method raises the proper Python exception
  }
  if (PyErr_Occurred()) PyErr_Clear();
  return slow_binary(F, a, b);
}

Tensor add_tt(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor add_ts(const Tensor& a, const Scalar& s) { return add(a, s); }
Tensor sub_tt(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor sub_ts(const Tensor& a, const Scalar& s) { return sub(a, s); }
Tensor rsub_ts(const Tensor& a, const Scalar& s) { return rsub(a, s); }
Tensor mul_tt(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor mul_ts(const Tensor& a, const Scalar& s) { return mul(a, s); }
Tensor div_tt(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor div_ts(const Tensor& a, const Scalar& s) { return div(a, s); }
Tensor rdiv_ts(const Tensor& a, const Scalar& s) { return rdiv(a, s); }

constexpr OpFns kAdd{"__add__", "__radd__", &add_tt, &add_ts, &add_ts};  // addition commutes
constexpr OpFns kSub{"__sub__", "__rsub__", &sub_tt, &sub_ts, &rsub_ts};
constexpr OpFns kMul{"__mul__", "__rmul__", &mul_tt, &mul_ts, &mul_ts};  // multiplication commutes
constexpr OpFns kDiv{"__truediv__", "__rtruediv__", &div_tt, &div_ts, &rdiv_ts};

}  // namespace

void install_fast_operators(py::class_<Tensor>& cls) {
  auto* tp = reinterpret_cast<PyTypeObject*>(cls.ptr());
  PyNumberMethods* nm = tp->tp_as_number;
  if (nm == nullptr || nm->nb_add == nullptr || nm->nb_subtract == nullptr ||
      nm->nb_multiply == nullptr || nm->nb_true_divide == nullptr)
    return;  // the bound methods stay in charge
  const py::detail::type_info* info = py::detail::get_type_info(typeid(Tensor));
  // The hand-made instances of wrap() assume Tensor's own simple layout: one C++ type, a
  // unique_ptr holder that fits in place.
  if (info == nullptr || info->type != tp || !info->simple_type ||
      info->holder_size_in_ptrs > py::detail::instance_simple_holder_in_ptrs())
    return;
  g_tensor_info = info;
  g_tensor_type = tp;
  nm->nb_add = &fast_binary<kAdd>;
  nm->nb_subtract = &fast_binary<kSub>;
  nm->nb_multiply = &fast_binary<kMul>;
  nm->nb_true_divide = &fast_binary<kDiv>;
  PyType_Modified(tp);
}

}  // namespace ranvier::python
