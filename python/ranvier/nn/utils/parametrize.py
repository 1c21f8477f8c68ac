"""nn.utils.parametrize: register_parametrization / remove_parametrizations / is_parametrized /
cached.

Parametrising module.<name> moves the original tensor into
module.parametrizations[name] (a ParametrizationList holding the parametrisation modules and the
tensor as `original`, or `original0`, `original1`, ... when the first right_inverse returns a
tuple) and swaps the module's class for a generated subclass with a property `name` that returns
the chained parametrisations applied to the original(s); assigning to it goes through
right_inverse. Inside `with cached():` each parametrised value is computed once.
"""
from contextlib import contextmanager

import ranvier
from ranvier.nn.modules.container import ModuleDict, ModuleList
from ranvier.nn.modules.module import Module
from ranvier.nn.parameter import Parameter

__all__ = ["ParametrizationList", "register_parametrization", "remove_parametrizations",
           "is_parametrized", "cached", "type_before_parametrizations"]

_cache_depth = 0
_cache = {}


@contextmanager
def cached():
    """Within this context each parametrised tensor is computed once and reused."""
    global _cache_depth
    _cache_depth += 1
    try:
        yield
    finally:
        _cache_depth -= 1
        if _cache_depth == 0:
            _cache.clear()


def _register(module, name, tensor):
    if isinstance(tensor, Parameter):
        module.register_parameter(name, tensor)
    else:
        module.register_buffer(name, tensor)


class ParametrizationList(ModuleList):
    """The parametrisations of one tensor, chained in order, and its original tensor(s)."""

    def __init__(self, modules, original, unsafe=False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        shape, dtype = tuple(original.shape), original.dtype
        with ranvier.no_grad():
            new = original
            for m in reversed(list(self)):
                if hasattr(m, "right_inverse"):
                    new = m.right_inverse(new)
        if not isinstance(new, (ranvier.Tensor, list, tuple)):
            raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors "
                             "(list, tuple...). Got %s" % type(new).__name__)
        self.is_tensor = isinstance(new, ranvier.Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new is not original:
                with ranvier.no_grad():
                    original.data = new.detach()
            _register(self, "original", original)
        else:
            for i, t in enumerate(new):
                if not isinstance(t, ranvier.Tensor):
                    raise ValueError("'right_inverse' must return a sequence of tensors. Got "
                                     "%s" % type(t).__name__)
                t = t.detach()
                if isinstance(original, Parameter):
                    t = Parameter(t, original.requires_grad)
                _register(self, "original%d" % i, t)
        if not unsafe:
            z = self()
            if not isinstance(z, ranvier.Tensor):
                raise ValueError("A parametrization must return a tensor. Got %s"
                                 % type(z).__name__)
            if tuple(z.shape) != shape or z.dtype != dtype:
                raise ValueError("Registering a parametrization may not change the shape or "
                                 "dtype of the tensor, unless `unsafe` flag is enabled. "
                                 "unparametrized shape: %s, dtype %s; parametrized shape: %s, "
                                 "dtype %s" % (list(shape), dtype, list(z.shape), z.dtype))

    def right_inverse(self, value):
        with ranvier.no_grad():
            for m in reversed(list(self)):
                if not hasattr(m, "right_inverse"):
                    raise RuntimeError("parametrization %s does not implement right_inverse."
                                       % type(m).__name__)
                value = m.right_inverse(value)
            if self.is_tensor:
                if tuple(value.shape) != tuple(self.original.shape):
                    raise ValueError("right_inverse returned a tensor of shape %s for an "
                                     "original of shape %s"
                                     % (list(value.shape), list(self.original.shape)))
                self.original.copy_(value)
            else:
                for i, t in enumerate(value):
                    getattr(self, "original%d" % i).copy_(t)

    def forward(self):
        mods = list(self)
        if self.is_tensor:
            x = mods[0](self.original)
        else:
            x = mods[0](*[getattr(self, "original%d" % i) for i in range(self.ntensors)])
        for m in mods[1:]:
            x = m(x)
        return x


def _inject_property(module, name):
    def get(self):
        plist = self.parametrizations[name]
        if _cache_depth > 0:
            key = (id(self), name)
            if key not in _cache:
                _cache[key] = plist()
            return _cache[key]
        return plist()

    def set(self, value):
        self.parametrizations[name].right_inverse(value)

    setattr(module.__class__, name, property(get, set))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Makes module.<tensor_name> the output of `parametrization` applied to the original
    tensor (a parameter or buffer of module). Parametrisations of one tensor chain in order."""
    if not isinstance(parametrization, Module):
        raise TypeError("register_parametrization: parametrization must be an nn.Module, got %s"
                        % type(parametrization).__name__)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            if tuple(x.shape) != tuple(y.shape) or x.dtype != y.dtype:
                raise ValueError("Registering a parametrization may not change the shape or "
                                 "dtype of the tensor, unless `unsafe` flag is enabled")
        plist.append(parametrization)
        plist.unsafe = plist.unsafe or unsafe
        return module
    if tensor_name in module._parameters or tensor_name in module._buffers:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError("register_parametrization: module.%s is None" % tensor_name)
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            cls = module.__class__
            new_cls = type("Parametrized" + cls.__name__, (cls,), {})
            module.__class__ = new_cls
            module.parametrizations = ModuleDict()
        module.parametrizations[tensor_name] = plist
        _inject_property(module, tensor_name)
        return module
    raise ValueError("Module '%s' does not have a parameter, a buffer, or a parametrized element "
                     "with name '%s'" % (module, tensor_name))


def is_parametrized(module, tensor_name=None):
    """Whether module has a parametrisation (on tensor_name, when given)."""
    p = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(p, ModuleDict):
        return False
    return len(p) > 0 if tensor_name is None else tensor_name in p


def type_before_parametrizations(module):
    """The module's class before register_parametrization swapped it."""
    if is_parametrized(module):
        return module.__class__.__bases__[0]
    return type(module)


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Removes the parametrisations of module.<tensor_name>. leave_parametrized=True keeps the
    current parametrised value, otherwise the original tensor comes back."""
    if not is_parametrized(module, tensor_name):
        raise ValueError("Module %s does not have a parametrization on %s"
                         % (module, tensor_name))
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with ranvier.no_grad():
                t = getattr(module, tensor_name)
                if t.dtype == original.dtype:
                    original.data = t.detach()
                else:
                    raise ValueError("remove_parametrizations: the parametrized tensor's dtype "
                                     "%s differs from the original's %s"
                                     % (t.dtype, original.dtype))
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                             "that is parametrized in terms of a sequence of tensors.")
        with ranvier.no_grad():
            t = getattr(module, tensor_name)
        o0 = plist.original0
        original = Parameter(t.detach(), o0.requires_grad) if isinstance(o0, Parameter) \
            else t.detach()
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module
