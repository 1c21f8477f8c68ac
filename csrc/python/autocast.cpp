// Autocast state (thread-local, per device type), the weight-cast cache, and the hook type that
// wraps user-facing callables (see Note [Autocast hooks] in autocast.h). The hook is a small
// CPython type with vectorcall, so that wrapping a bound op adds almost nothing when autocast is
// off; as a class attribute it binds like a method (Tensor.matmul, Tensor.__matmul__, ...).
#include "python/autocast.h"

#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/tensor.h"
#include "ops/copy.h"

namespace ranvier::python::autocast {

namespace {

struct State {
  bool enabled[kNumDeviceTypes] = {false, false};
  DType dtype[kNumDeviceTypes] = {DType::BFloat16, DType::Float16};
  bool any = false;  // enabled[0] || enabled[1]: the one read a hook makes when autocast is off
  bool cache_enabled = true;
  int nesting = 0;
};
thread_local State tls;

// Note [Weight-cast cache]: inside a region, the lower-precision cast of a float32 leaf that
// requires grad (a parameter) is made once and reused by every op of the region, so that a
// weight used by several ops is cast once and its gradient flows through one cast node. The
// entry holds the source tensor (so its address cannot be reused while cached) and the
// source's version: an in-place change of the parameter inside the region makes a fresh cast.
// The cache is emptied when the outermost region exits.
struct CacheEntry {
  Tensor src;
  uint32_t version;
  DType dtype;
  Tensor cast;
};
thread_local std::unordered_map<const void*, CacheEntry> cache;

void update_any() { tls.any = tls.enabled[0] || tls.enabled[1]; }

DeviceType device_type_arg(const std::string& s, const char* fn) {
  RV_CHECK(s == "cpu" || s == "cuda", fn, ": expected device_type 'cpu' or 'cuda', but got '",
           s, "'");
  return s == "cpu" ? DeviceType::CPU : DeviceType::CUDA;
}

bool eligible(const Tensor& t, DeviceType d) {
  return t.defined() && is_floating(t.dtype()) && t.dtype() != DType::Float64 &&
         t.device().type == d;
}

Tensor cast_lower(const Tensor& t, DType to) {
  const bool cacheable = tls.cache_enabled && t.dtype() == DType::Float32 && t.is_leaf() &&
                         t.requires_grad() && !t.is_view() && autograd::GradMode::is_enabled();
  if (!cacheable) return to_dtype(t, to);
  auto it = cache.find(t.impl());
  if (it != cache.end() && it->second.version == t.version() && it->second.dtype == to)
    return it->second.cast;
  Tensor c = to_dtype(t, to);
  cache[t.impl()] = CacheEntry{t, t.version(), to, c};
  return c;
}

// ---------------------------------------------------------------------------------------------
// The hook type

struct Hook {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject* fn;    // the wrapped callable
  PyObject* name;  // the op's name, for messages
  Policy policy[kNumDeviceTypes];
};

bool is_tensor_obj(PyObject* o) { return py::isinstance<Tensor>(o); }

// The device type of the first tensor among the arguments (one level into lists/tuples), or -1.
int first_device(PyObject* o) {
  if (is_tensor_obj(o)) return int(py::cast<const Tensor&>(o).device().type);
  if (PyList_Check(o) || PyTuple_Check(o)) {
    py::sequence seq = py::reinterpret_borrow<py::sequence>(o);
    for (py::handle h : seq)
      if (is_tensor_obj(h.ptr())) return int(py::cast<const Tensor&>(h).device().type);
  }
  return -1;
}

// Whether the current Python frame runs inside ranvier's own implementation (module ranvier or
// ranvier.<sub>), where ops compose other ops and must not be re-cast. The layers a user
// calls into (ranvier.nn.modules, ranvier.train) count as user code.
bool called_from_ranvier() {
  PyObject* globals = PyEval_GetGlobals();
  if (globals == nullptr) return false;
  PyObject* name = PyDict_GetItemString(globals, "__name__");
  if (name == nullptr || !PyUnicode_Check(name)) return false;
  const char* s = PyUnicode_AsUTF8(name);
  if (s == nullptr) {
    PyErr_Clear();
    return false;
  }
  if (std::strncmp(s, "ranvier", 7) != 0) return false;
  if (s[7] == '\0') return true;
  if (s[7] != '.') return false;
  const char* rest = s + 8;
  return std::strncmp(rest, "nn.modules", 10) != 0 && std::strncmp(rest, "train", 5) != 0;
}

// Whether the call names an explicit dtype (softmax(x, 1, dtype=...) keeps what it asked for).
bool has_explicit_dtype(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  for (Py_ssize_t i = 0; i < nargs; ++i)
    if (py::isinstance<DType>(args[i])) return true;
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t i = 0; i < nkw; ++i) {
    const char* k = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, i));
    if (k && std::strcmp(k, "dtype") == 0 && args[nargs + i] != Py_None) return true;
  }
  return false;
}

struct Plan {
  Policy policy;
  DeviceType dev;
  DType to;
};

Tensor cast_tensor(const Tensor& t, const Plan& p) {
  if (!eligible(t, p.dev) || t.dtype() == p.to) return t;
  if (p.policy == Policy::Lower) return cast_lower(t, p.to);
  return to_dtype(t, p.to);
}

// A new reference to o with its tensors cast (lists and tuples one level deep).
PyObject* cast_object(PyObject* o, const Plan& p) {
  if (is_tensor_obj(o)) {
    const Tensor& t = py::cast<const Tensor&>(o);
    Tensor c = cast_tensor(t, p);
    if (c.impl() == t.impl()) {
      Py_INCREF(o);
      return o;
    }
    return py::cast(c).release().ptr();
  }
  const bool is_list = PyList_Check(o);
  if (is_list || PyTuple_Check(o)) {
    py::sequence seq = py::reinterpret_borrow<py::sequence>(o);
    bool any = false;
    for (py::handle h : seq) any = any || is_tensor_obj(h.ptr());
    if (any) {
      py::list out;
      for (py::handle h : seq)
        out.append(py::reinterpret_steal<py::object>(cast_object(h.ptr(), p)));
      if (is_list) return out.release().ptr();
      return py::tuple(out).release().ptr();
    }
  }
  Py_INCREF(o);
  return o;
}

// The widest floating dtype among the eligible arguments, starting from the region's dtype.
void widen(PyObject* o, DeviceType d, DType& to) {
  if (is_tensor_obj(o)) {
    const Tensor& t = py::cast<const Tensor&>(o);
    if (eligible(t, d)) to = promote_types(to, t.dtype());
  } else if (PyList_Check(o) || PyTuple_Check(o)) {
    py::sequence seq = py::reinterpret_borrow<py::sequence>(o);
    for (py::handle h : seq) widen(h.ptr(), d, to);
  }
}

PyObject* hooked_call(Hook* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  const Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
  int dev = -1;
  for (Py_ssize_t i = 0; i < total && dev < 0; ++i) dev = first_device(args[i]);
  if (dev < 0 || !tls.enabled[dev]) return nullptr;
  Plan plan{self->policy[dev], DeviceType(dev), tls.dtype[dev]};
  if (plan.policy == Policy::None || called_from_ranvier()) return nullptr;
  if (plan.policy == Policy::Fp32Dtype) {
    // only when the first tensor argument is eligible (a float64 input keeps its dtype)
    if (has_explicit_dtype(args, nargs, kwnames)) return nullptr;
    const Tensor* first = nullptr;
    for (Py_ssize_t i = 0; i < total && !first; ++i)
      if (is_tensor_obj(args[i])) first = &py::cast<const Tensor&>(args[i]);
    if (!first || !eligible(*first, plan.dev)) return nullptr;
    const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    py::tuple names(nkw + 1);
    for (Py_ssize_t i = 0; i < nkw; ++i)
      names[i] = py::reinterpret_borrow<py::object>(PyTuple_GET_ITEM(kwnames, i));
    names[nkw] = py::str("dtype");
    py::object f32 = py::cast(DType::Float32);
    std::vector<PyObject*> all(args, args + total);
    all.push_back(f32.ptr());
    return PyObject_Vectorcall(self->fn, all.data(), size_t(nargs), names.ptr());
  }
  if (plan.policy == Policy::Fp32) {
    if (has_explicit_dtype(args, nargs, kwnames)) return nullptr;
    plan.to = DType::Float32;
  } else if (plan.policy == Policy::Promote) {
    for (Py_ssize_t i = 0; i < total; ++i) widen(args[i], plan.dev, plan.to);
  } else if (plan.policy == Policy::Banned) {
    std::string n = py::str(self->name);
    const char* where = dev == int(DeviceType::CUDA) ? "cuda" : "cpu";
    throw_error(ErrorKind::Runtime,
                str_cat(n, " is unsafe to autocast on ", where,
                        ": it takes probabilities, whose float16 rounding near 0 and 1 loses the "
                        "loss. Use binary_cross_entropy_with_logits (or BCEWithLogitsLoss), which "
                        "fuses the sigmoid and runs in float32 under autocast, or call ", n,
                        " outside the region on float32 inputs"));
  }
  std::vector<PyObject*> cast_args(size_t(total), nullptr);
  struct Release {
    std::vector<PyObject*>& v;
    ~Release() {
      for (PyObject* o : v) Py_XDECREF(o);
    }
  } release{cast_args};
  for (Py_ssize_t i = 0; i < total; ++i) cast_args[size_t(i)] = cast_object(args[i], plan);
  return PyObject_Vectorcall(self->fn, cast_args.data(), size_t(nargs), kwnames);
}

PyObject* hook_vectorcall(PyObject* callable, PyObject* const* args, size_t nargsf,
                          PyObject* kwnames) {
  Hook* self = reinterpret_cast<Hook*>(callable);
  if (!tls.any) return PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  try {
    PyObject* r = hooked_call(self, args, nargs, kwnames);
    if (r != nullptr || PyErr_Occurred()) return r;
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const Error& e) {
    PyObject* type = PyExc_RuntimeError;
    if (e.kind() == ErrorKind::Type) type = PyExc_TypeError;
    if (e.kind() == ErrorKind::Value) type = PyExc_ValueError;
    if (e.kind() == ErrorKind::NotImplemented) type = PyExc_NotImplementedError;
    if (e.kind() == ErrorKind::Index) type = PyExc_IndexError;
    PyErr_SetString(type, e.what());
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
  return PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
}

void hook_dealloc(PyObject* o) {
  Hook* self = reinterpret_cast<Hook*>(o);
  PyObject_GC_UnTrack(o);
  Py_CLEAR(self->fn);
  Py_CLEAR(self->name);
  Py_TYPE(o)->tp_free(o);
}

int hook_traverse(PyObject* o, visitproc visit, void* arg) {
  Hook* self = reinterpret_cast<Hook*>(o);
  Py_VISIT(self->fn);
  return 0;
}

int hook_clear(PyObject* o) {
  Py_CLEAR(reinterpret_cast<Hook*>(o)->fn);
  return 0;
}

// As a class attribute the hook binds like a function: Tensor.exp(x) and x.exp() both work.
PyObject* hook_descr_get(PyObject* self, PyObject* obj, PyObject*) {
  if (obj == nullptr || obj == Py_None) {
    Py_INCREF(self);
    return self;
  }
  return PyMethod_New(self, obj);
}

PyObject* forward_attr(PyObject* self, void* closure) {
  return PyObject_GetAttrString(reinterpret_cast<Hook*>(self)->fn,
                                static_cast<const char*>(closure));
}

PyObject* hook_wrapped(PyObject* self, void*) {
  PyObject* fn = reinterpret_cast<Hook*>(self)->fn;
  Py_INCREF(fn);
  return fn;
}

PyObject* hook_repr(PyObject* self) {
  return PyUnicode_FromFormat("<autocast hook of %R>", reinterpret_cast<Hook*>(self)->fn);
}

PyGetSetDef hook_getset[] = {
    {"__name__", forward_attr, nullptr, nullptr, const_cast<char*>("__name__")},
    {"__qualname__", forward_attr, nullptr, nullptr, const_cast<char*>("__qualname__")},
    {"__doc__", forward_attr, nullptr, nullptr, const_cast<char*>("__doc__")},
    {"__module__", forward_attr, nullptr, nullptr, const_cast<char*>("__module__")},
    {"__wrapped__", hook_wrapped, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyTypeObject* hook_type() {
  static PyTypeObject* type = [] {
    static PyTypeObject t = {PyVarObject_HEAD_INIT(nullptr, 0)};
    t.tp_name = "ranvier._C._AutocastHook";
    t.tp_basicsize = sizeof(Hook);
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL;
    t.tp_vectorcall_offset = offsetof(Hook, vectorcall);
    t.tp_call = PyVectorcall_Call;
    t.tp_dealloc = hook_dealloc;
    t.tp_traverse = hook_traverse;
    t.tp_clear = hook_clear;
    t.tp_descr_get = hook_descr_get;
    t.tp_getset = hook_getset;
    t.tp_repr = hook_repr;
    if (PyType_Ready(&t) < 0) throw py::error_already_set();
    return &t;
  }();
  return type;
}

Policy policy_arg(const std::string& s) {
  if (s == "none" || s.empty()) return Policy::None;
  if (s == "lower") return Policy::Lower;
  if (s == "fp32") return Policy::Fp32;
  if (s == "promote") return Policy::Promote;
  if (s == "banned") return Policy::Banned;
  if (s == "fp32_dtype") return Policy::Fp32Dtype;
  throw_error(ErrorKind::Value,
              str_cat("_autocast_hook: unknown policy '", s,
                      "' (expected none, lower, fp32, fp32_dtype, promote or banned)"));
}

py::object make_hook(py::object fn, const std::string& name, const std::string& cpu,
                     const std::string& cuda) {
  RV_CHECK_TYPE(PyCallable_Check(fn.ptr()), "_autocast_hook: expected a callable");
  Policy pc = policy_arg(cpu), pg = policy_arg(cuda);
  Hook* h = PyObject_GC_New(Hook, hook_type());
  if (h == nullptr) throw py::error_already_set();
  h->vectorcall = hook_vectorcall;
  h->fn = fn.release().ptr();
  h->name = py::str(name).release().ptr();
  h->policy[int(DeviceType::CPU)] = pc;
  h->policy[int(DeviceType::CUDA)] = pg;
  PyObject_GC_Track(reinterpret_cast<PyObject*>(h));
  return py::reinterpret_steal<py::object>(reinterpret_cast<PyObject*>(h));
}

}  // namespace

bool is_enabled(DeviceType d) { return tls.enabled[int(d)]; }
DType get_dtype(DeviceType d) { return tls.dtype[int(d)]; }

void bind(py::module_& m) {
  m.def("_autocast_is_enabled", [](const std::string& d) {
    return tls.enabled[int(device_type_arg(d, "is_autocast_enabled"))];
  });
  m.def("_autocast_set_enabled", [](const std::string& d, bool on) {
    tls.enabled[int(device_type_arg(d, "set_autocast_enabled"))] = on;
    update_any();
  });
  m.def("_autocast_get_dtype", [](const std::string& d) {
    return tls.dtype[int(device_type_arg(d, "get_autocast_dtype"))];
  });
  m.def("_autocast_set_dtype", [](const std::string& d, DType t) {
    const DeviceType dt = device_type_arg(d, "set_autocast_dtype");
    RV_CHECK_VALUE(is_reduced_float(t) || t == DType::Float32, "set_autocast_dtype",
                   ": expected float16, bfloat16 or float32, but got ", dtype_name(t));
    tls.dtype[int(dt)] = t;
  });
  m.def("_autocast_any_enabled", [] { return tls.any; });
  m.def("_autocast_is_cache_enabled", [] { return tls.cache_enabled; });
  m.def("_autocast_set_cache_enabled", [](bool on) { tls.cache_enabled = on; });
  m.def("_autocast_increment_nesting", [] { return ++tls.nesting; });
  m.def("_autocast_decrement_nesting", [] {
    if (tls.nesting > 0) --tls.nesting;
    return tls.nesting;
  });
  m.def("_autocast_clear_cache", [] { cache.clear(); });
  m.def("_autocast_cache_size", [] { return cache.size(); });
  m.def("_autocast_hook", &make_hook, py::arg("fn"), py::arg("name"), py::arg("cpu"),
        py::arg("cuda"),
        "wraps fn so that calls made from user code inside an autocast region cast their "
        "floating tensor arguments by the given policy (none, lower, fp32, fp32_dtype, promote, "
        "banned)");
}

}  // namespace ranvier::python::autocast
