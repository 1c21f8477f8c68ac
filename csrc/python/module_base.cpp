// Two pieces of nn.Module written against the CPython API, because a model's forward pass runs
// them for every layer it calls and every parameter it reads:
//
// - _ModuleBase: nn.Module's base class; its only behaviour is calling. `module(x)` finds the
//   module's hook dicts in its __dict__; when all three are empty it calls self.forward(*args,
//   **kwargs) straight away, else Module._call_with_hooks(args, kwargs) (Python) runs the hooks.
//   As a Python `__call__` this cost ~4,300 instructions per call (a frame with *args/**kwargs,
//   three attribute look-ups through Module.__getattr__'s hook); here it is a few hundred.
//   One consequence of the C base: `obj.__class__ = X` between a module class and a class that
//   puts a plain-Python mixin first (class M(Mixin, nn.Linear)) is refused by Python (their
//   layouts descend from different bases); a mixin meant for that derives from _ModuleBase, as
//   nn.LazyModuleMixin does.
// - _RegisteredAttr(name): the class-level non-data descriptor nn.Module gives each registered
//   parameter, buffer and submodule name (see `_expose` in nn/modules/module.py): `obj.name`
//   returns obj._parameters[name], else obj._buffers[name], else obj._modules[name], else raises
//   AttributeError(name) (after which Python calls Module.__getattr__, which then reports the
//   missing attribute). Being a non-data descriptor, it never hides an instance attribute.
#include <Python.h>
#include <structmember.h>

#include <pybind11/pybind11.h>

namespace ranvier::python {

namespace py = pybind11;

namespace {

PyObject* s_pre_hooks = nullptr;
PyObject* s_hooks = nullptr;
PyObject* s_backward_hooks = nullptr;
PyObject* s_forward = nullptr;
PyObject* s_call_with_hooks = nullptr;
PyObject* s_stores[3] = {nullptr, nullptr, nullptr};  // _parameters, _buffers, _modules

// Whether d[key] is an empty dict (OrderedDict included). Anything else (missing, not a dict,
// not empty) sends the call down the Python path, which has the full rules and errors.
bool empty_dict_entry(PyObject* d, PyObject* key) {
  PyObject* v = PyDict_GetItemWithError(d, key);  // borrowed
  return v != nullptr && PyDict_Check(v) && PyDict_GET_SIZE(v) == 0;
}

PyObject* module_call(PyObject* self, PyObject* args, PyObject* kwargs) {
  PyObject* d = PyObject_GenericGetDict(self, nullptr);
  if (d == nullptr) return nullptr;
  const bool plain = empty_dict_entry(d, s_pre_hooks) && empty_dict_entry(d, s_hooks) &&
                     empty_dict_entry(d, s_backward_hooks);
  Py_DECREF(d);
  if (PyErr_Occurred()) return nullptr;
  if (plain) {
    PyObject* forward = PyObject_GetAttr(self, s_forward);
    if (forward == nullptr) return nullptr;
    PyObject* out = PyObject_Call(forward, args, kwargs);
    Py_DECREF(forward);
    return out;
  }
  PyObject* kw = kwargs != nullptr ? kwargs : PyDict_New();
  if (kw == nullptr) return nullptr;
  if (kwargs != nullptr) Py_INCREF(kw);
  PyObject* out = PyObject_CallMethodObjArgs(self, s_call_with_hooks, args, kw, nullptr);
  Py_DECREF(kw);
  return out;
}

PyType_Slot module_base_slots[] = {
    {Py_tp_call, reinterpret_cast<void*>(&module_call)},
    {Py_tp_new, reinterpret_cast<void*>(&PyType_GenericNew)},
    {Py_tp_doc, const_cast<char*>("Base of nn.Module: calling a module runs its forward "
                                  "(through Module._call_with_hooks when it has hooks).")},
    {0, nullptr},
};

PyType_Spec module_base_spec = {"ranvier._C._ModuleBase", sizeof(PyObject), 0,
                                Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, module_base_slots};

struct RegisteredAttr {
  PyObject_HEAD
  PyObject* name;  // str
};

PyObject* registered_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* kwlist[] = {"name", nullptr};
  PyObject* name = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "U:_RegisteredAttr",
                                   const_cast<char**>(kwlist), &name))
    return nullptr;
  auto* self = reinterpret_cast<RegisteredAttr*>(type->tp_alloc(type, 0));
  if (self == nullptr) return nullptr;
  Py_INCREF(name);
  self->name = name;
  return reinterpret_cast<PyObject*>(self);
}

void registered_dealloc(PyObject* o) {
  PyTypeObject* type = Py_TYPE(o);
  Py_CLEAR(reinterpret_cast<RegisteredAttr*>(o)->name);
  type->tp_free(o);
  Py_DECREF(type);
}

PyObject* registered_get(PyObject* self, PyObject* obj, PyObject* /*type*/) {
  PyObject* name = reinterpret_cast<RegisteredAttr*>(self)->name;
  if (obj == nullptr || obj == Py_None) {
    PyErr_SetObject(PyExc_AttributeError, name);
    return nullptr;
  }
  PyObject* d = PyObject_GenericGetDict(obj, nullptr);
  if (d == nullptr) return nullptr;
  for (PyObject* key : s_stores) {
    PyObject* store = PyDict_GetItemWithError(d, key);  // borrowed
    if (store == nullptr) {
      if (PyErr_Occurred()) break;
      continue;
    }
    // The stores are dicts; anything else is looked up the generic way.
    PyObject* v = PyDict_Check(store) ? PyDict_GetItemWithError(store, name)
                                      : PyObject_GetItem(store, name);
    if (v != nullptr) {
      if (PyDict_Check(store)) Py_INCREF(v);
      Py_DECREF(d);
      return v;
    }
    if (PyErr_Occurred()) {
      if (PyDict_Check(store) || !PyErr_ExceptionMatches(PyExc_KeyError)) break;
      PyErr_Clear();
    }
  }
  Py_DECREF(d);
  if (!PyErr_Occurred()) PyErr_SetObject(PyExc_AttributeError, name);
  return nullptr;
}

PyMemberDef registered_members[] = {
    {const_cast<char*>("name"), T_OBJECT_EX, offsetof(RegisteredAttr, name), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyType_Slot registered_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(&registered_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(&registered_dealloc)},
    {Py_tp_descr_get, reinterpret_cast<void*>(&registered_get)},
    {Py_tp_members, registered_members},
    {Py_tp_doc, const_cast<char*>("Class attribute standing for a Module's registered "
                                  "parameter, buffer or submodule `name`.")},
    {0, nullptr},
};

PyType_Spec registered_spec = {"ranvier._C._RegisteredAttr", sizeof(RegisteredAttr), 0,
                               Py_TPFLAGS_DEFAULT, registered_slots};

PyObject* intern(const char* s) {
  PyObject* o = PyUnicode_InternFromString(s);
  if (o == nullptr) throw py::error_already_set();
  return o;  // kept for the life of the process
}

}  // namespace

void bind_module_base(py::module_& m) {
  s_pre_hooks = intern("_forward_pre_hooks");
  s_hooks = intern("_forward_hooks");
  s_backward_hooks = intern("_backward_hooks");
  s_forward = intern("forward");
  s_call_with_hooks = intern("_call_with_hooks");
  s_stores[0] = intern("_parameters");
  s_stores[1] = intern("_buffers");
  s_stores[2] = intern("_modules");
  for (auto [spec, attr] : {std::pair{&module_base_spec, "_ModuleBase"},
                            std::pair{&registered_spec, "_RegisteredAttr"}}) {
    PyObject* type = PyType_FromSpec(spec);
    if (type == nullptr) throw py::error_already_set();
    m.attr(attr) = py::reinterpret_steal<py::object>(type);
  }
}

}  // namespace ranvier::python
