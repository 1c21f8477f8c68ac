"""Module: the base class of every layer. Parameters, buffers and submodules assigned as
attributes are registered (in assignment order) and reached by parameters(), state_dict(), ..."""
from collections import OrderedDict, namedtuple

from ranvier import _C
from ranvier.nn.parameter import Buffer, Parameter
from ranvier.nn.modules._hooks import BackwardHookState, RemovableHandle, add_hook  # noqa: F401


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _check_name(kind, name):
    if not isinstance(name, str):
        raise TypeError("%s name should be a string. Got %s" % (kind, type(name).__name__))
    if name == "":
        raise KeyError('%s name can\'t be empty string ""' % kind)
    if "." in name:
        raise KeyError('%s name can\'t contain ".", got: %s' % (kind, name))


def _shape_str(t):
    return "ranvier.Size(%s)" % list(t.shape)


# The class attribute standing for the parameter, buffer or submodule `name` of each instance
# (csrc/python/module_base.cpp). Module keeps those in its _parameters / _buffers / _modules
# dicts, which plain attribute look-up does not search: without it, every `self.weight` would
# first fail in object.__getattribute__ (building an AttributeError and its message) before
# reaching Module.__getattr__. As a non-data descriptor it never hides an instance attribute of
# the same name, and where an instance has no such entry it raises AttributeError, after which
# Python still calls Module.__getattr__, so what a look-up returns does not change.
_Registered = _C._RegisteredAttr


def _expose(cls, name):
    """Gives cls a _Registered attribute for name unless the name is taken in its MRO."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return
    setattr(cls, name, _Registered(name))


class Module(_C._ModuleBase):
    """Base class for all neural-network modules; subclasses define forward().

    Calling a module (`module(*args, **kwargs)`) is implemented by its C base class
    (csrc/python/module_base.cpp): it runs self.forward(*args, **kwargs) directly when the
    module has no hooks, and _call_with_hooks(args, kwargs) otherwise."""

    training: bool

    def __init__(self, *args, **kwargs):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks_with_kwargs", set())
        object.__setattr__(self, "_forward_pre_hooks_with_kwargs", set())
        object.__setattr__(self, "_backward_hooks", OrderedDict())

    # -- registration -------------------------------------------------------------------------
    def register_parameter(self, name, param):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError("attribute '%s' already exists" % name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError("cannot assign '%s' object to parameter '%s' (ranvier.nn.Parameter "
                            "or None required)" % (type(param).__name__, name))
        self._parameters[name] = param
        _expose(type(self), name)

    def register_buffer(self, name, tensor, persistent=True):
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError("attribute '%s' already exists" % name)
        if tensor is not None and not isinstance(tensor, _C.Tensor):
            raise TypeError("cannot assign '%s' object to buffer '%s' (ranvier.Tensor or None "
                            "required)" % (type(tensor).__name__, name))
        self._buffers[name] = tensor
        _expose(type(self), name)
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError("%s is not a Module subclass" % type(module).__name__)
        _check_name("module", name)
        if hasattr(self, name) and name not in self._modules:
            raise KeyError("attribute '%s' already exists" % name)
        self._modules[name] = module
        _expose(type(self), name)

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        if isinstance(value, Parameter):
            for store in ("_buffers", "_modules"):
                d.get(store, {}).pop(name, None)
            d.pop(name, None)
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            for store in ("_parameters", "_buffers"):
                d.get(store, {}).pop(name, None)
            d.pop(name, None)
            if "_modules" not in d:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._modules[name] = value
            _expose(type(self), name)
        elif isinstance(value, Buffer):
            d.pop(name, None)
            self.register_buffer(name, _C.Tensor(value), value.persistent)
        elif name in d.get("_parameters", {}):
            if value is not None:
                raise TypeError("cannot assign '%s' as parameter '%s' (ranvier.nn.Parameter or "
                                "None expected)" % (type(value).__name__, name))
            self._parameters[name] = None
        elif name in d.get("_buffers", {}):
            if value is not None and not isinstance(value, _C.Tensor):
                raise TypeError("cannot assign '%s' as buffer '%s' (ranvier.Tensor or None "
                                "expected)" % (type(value).__name__, name))
            self._buffers[name] = value
        elif name in d.get("_modules", {}):
            if value is not None:
                raise TypeError("cannot assign '%s' as child module '%s' (ranvier.nn.Module or "
                                "None expected)" % (type(value).__name__, name))
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError("'%s' object has no attribute '%s'" % (type(self).__name__, name))

    def __delattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            s = self.__dict__.get(store)
            if s is not None and name in s:
                del s[name]
                self.__dict__["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    # -- calling ------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError('Module [%s] is missing the required "forward" function'
                                  % type(self).__name__)

    def _call_with_hooks(self, args, kwargs):
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                r = hook(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError("forward pre-hook with kwargs must return None or a "
                                           "tuple (new_args, new_kwargs), got %r" % (r,))
                    args, kwargs = r
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        state = None
        if self._backward_hooks and _C.is_grad_enabled():
            state = BackwardHookState(self, self._backward_hooks)
            args = state.wrap_inputs(args)
        out = self.forward(*args, **kwargs)
        for hid, hook in list(self._forward_hooks.items()):
            if hid in self._forward_hooks_with_kwargs:
                r = hook(self, args, kwargs, out)
            else:
                r = hook(self, args, out)
            if r is not None:
                out = r
        if state is not None:
            out = state.wrap_outputs(out)
        return out

    # -- hooks --------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args) -> None or new args; with_kwargs: hook(module, args, kwargs) ->
        None or (args, kwargs)."""
        h = add_hook(self._forward_pre_hooks, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(h.id)
        return h

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """hook(module, args, output) -> None or a new output (with_kwargs: (module, args,
        kwargs, output))."""
        h = add_hook(self._forward_hooks, hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(h.id)
        return h

    def register_full_backward_hook(self, hook, prepend=False):
        """hook(module, grad_input, grad_output) -> None or new grad_input, run when the
        gradients with respect to the module's inputs are computed. With several tensor inputs,
        a returned grad_input replaces only the gradient that arrived last (the others have
        already flowed on)."""
        return add_hook(self._backward_hooks, hook, prepend)

    register_backward_hook = register_full_backward_hook

    # -- traversal ----------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        if memo is None:
            memo = set()
        if remove_duplicate and id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name,
                                       remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, get, prefix="", recurse=True, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mp, m in mods:
            for k, v in get(m):
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield mp + ("." if mp else "") + k, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                       remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                       remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -- modes and gradients ------------------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_()
                p.grad.zero_()

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- conversion ---------------------------------------------------------------------------
    def _apply(self, fn, recurse=True):
        """Replaces every parameter's data (keeping the Parameter object), its grad, and every
        buffer by fn(tensor)."""
        from ranvier.autograd.grad_mode import no_grad
        if recurse:
            for m in self.children():
                m._apply(fn)
        with no_grad():
            for key, p in self._parameters.items():
                if p is None:
                    continue
                new = fn(p)
                if new is not p:
                    p.data = new
                if p.grad is not None:
                    g = fn(p.grad)
                    if g is not p.grad:
                        p.grad = g
            for key, b in self._buffers.items():
                if b is not None:
                    self._buffers[key] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """to(device), to(dtype), to(device, dtype), to(tensor), to(memory_format=...): moves
        parameters and buffers to the device and casts the floating-point ones to dtype, in
        place (each Parameter keeps its identity: its .data is swapped, so an optimizer built
        before the move still holds it). non_blocking is accepted."""
        dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
        non_blocking = kwargs.pop("non_blocking", False)
        kwargs.pop("memory_format", None)
        kwargs.pop("copy", None)
        if kwargs:
            raise TypeError("to() got an unexpected keyword argument '%s'" % next(iter(kwargs)))
        for a in args:
            if isinstance(a, _C.dtype):
                dtype = a
            elif isinstance(a, (str, _C.device)):
                device = a
            elif isinstance(a, int) and not isinstance(a, bool):
                device = "cuda:%d" % a
            elif isinstance(a, bool):
                non_blocking = a
            elif isinstance(a, _C.Tensor):
                dtype, device = a.dtype, a.device
            else:
                raise TypeError("to() received an invalid argument of type %s"
                                % type(a).__name__)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError("nn.Module.to only accepts floating point dtypes, but got desired "
                            "dtype=%s" % dtype)
        if device is not None:
            device = device if isinstance(device, _C.device) else _C.device(device)
            if device.type == "cuda":
                from ranvier import cuda
                cuda._index(device)  # RuntimeError saying why when CUDA cannot be used
        if dtype is None and device is None:
            return self

        def convert(t):
            if device is not None and t.device != device:
                t = t.to(device, non_blocking=non_blocking)
            if dtype is not None and t.is_floating_point() and t.dtype != dtype:
                t = t._to_dtype(dtype)
            return t
        return self._apply(convert)

    def cpu(self):
        """Moves every parameter and buffer to the CPU (in place, like to("cpu"))."""
        return self.to("cpu")

    def cuda(self, device=None):
        """Moves every parameter and buffer to the CUDA device (the current one when None)."""
        if device is None:
            return self.to("cuda")
        return self.to(device if not isinstance(device, int) else "cuda:%d" % device)

    def float(self):
        from ranvier import float32
        return self._apply(lambda t: t._to_dtype(float32) if t.is_floating_point() else t)

    def double(self):
        from ranvier import float64
        return self._apply(lambda t: t._to_dtype(float64) if t.is_floating_point() else t)

    def half(self):
        from ranvier import float16
        return self._apply(lambda t: t._to_dtype(float16) if t.is_floating_point() else t)

    def bfloat16(self):
        from ranvier import bfloat16
        return self._apply(lambda t: t._to_dtype(bfloat16) if t.is_floating_point() else t)

    def type(self, dst_type):
        return self._apply(lambda t: t._to_dtype(dst_type))

    # -- state dict ---------------------------------------------------------------------------
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """OrderedDict of parameters and persistent buffers, keyed by dotted names: a module's
        own entries first, then each child's under 'child.'."""
        if args:  # the old positional form (destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        assign = local_metadata.get("assign_to_params_buffers", False)
        persistent = [(k, v) for k, v in self._buffers.items()
                      if k not in self._non_persistent_buffers_set]
        local = [(k, v) for k, v in self._parameters.items()] + persistent
        for name, cur in local:
            if cur is None:
                continue
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            src = state_dict[key]
            if not isinstance(src, _C.Tensor):
                error_msgs.append('While copying the parameter named "%s", expected ranvier.'
                                  'Tensor or Tensor-like object from checkpoint but received %s'
                                  % (key, type(src).__name__))
                continue
            if tuple(src.shape) != tuple(cur.shape):
                error_msgs.append("size mismatch for %s: copying a param with shape %s from "
                                  "checkpoint, the shape in current model is %s."
                                  % (key, _shape_str(src), _shape_str(cur)))
                continue
            try:
                if assign:
                    if name in self._parameters:
                        new = Parameter(src, requires_grad=cur.requires_grad)
                        self._parameters[name] = new
                    else:
                        self._buffers[name] = src
                else:
                    cur.copy_(src)
            except Exception as e:  # dtype or other copy failure
                error_msgs.append('While copying the parameter named "%s", whose dimensions in '
                                  'the model are %s and whose dimensions in the checkpoint are '
                                  '%s, an exception occurred : %s.'
                                  % (key, _shape_str(cur), _shape_str(src), e.args))
        if strict:
            for key in state_dict.keys():
                if not key.startswith(prefix):
                    continue
                head = key[len(prefix):].split(".", 1)[0]
                if head not in self._modules and head not in {k for k, v in local if v is not None}:
                    unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copies values from state_dict into the parameters and buffers (in place, under
        no_grad; assign=True replaces them). Returns (missing_keys, unexpected_keys)."""
        from ranvier.autograd.grad_mode import no_grad
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError("Expected state_dict to be dict-like, got %s."
                            % type(state_dict).__name__)
        missing, unexpected, errors = [], [], []
        meta = {"assign_to_params_buffers": assign}

        def load(module, prefix):
            module._load_from_state_dict(state_dict, prefix, meta, True, missing, unexpected,
                                         errors)
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")

        with no_grad():
            load(self, "")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: %s. "
                              % ", ".join('"%s"' % k for k in unexpected))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: %s. "
                              % ", ".join('"%s"' % k for k in missing))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for %s:\n\t%s"
                               % (type(self).__name__, "\n\t".join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    # -- lookup -------------------------------------------------------------------------------
    def get_submodule(self, target):
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def get_parameter(self, target):
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        p = getattr(mod, name)
        if not isinstance(p, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return p

    def get_buffer(self, target):
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._buffers:
            raise AttributeError(mod._get_name() + " has no buffer `" + name + "`")
        return mod._buffers[name]

    def __dir__(self):
        keys = list(object.__dir__(self)) + list(self._parameters) + list(self._buffers) + \
            list(self._modules)
        return sorted(k for k in set(keys) if not k[:1].isdigit())

    # -- printing -----------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append("(" + name + "): " + child)
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"
