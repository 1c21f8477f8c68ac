"""Parameter (a Tensor that a Module registers as learnable) and Buffer."""
from ranvier import _C


class Parameter(_C.Tensor):
    """A tensor that is a module's learnable parameter: requires grad by default, and assigning
    it as a Module attribute registers it."""

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = _C._empty((0,), None, None)
        super().__init__(data.detach())
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto):
        return (Parameter, (self.detach().clone(), self.requires_grad))


class Buffer(_C.Tensor):
    """Marks a tensor to be registered as a module buffer when assigned as an attribute."""

    def __init__(self, data, persistent=True):
        super().__init__(data.detach())
        self.persistent = persistent


_UNINIT_MSG = ("Attempted to use an uninitialized parameter in %s. This error happens when you "
               "are using a LazyModule (LazyLinear, LazyConv2d, ...) before its first forward: "
               "call forward with a dummy batch to initialize the parameters first")


class UninitializedParameter(Parameter):
    """A parameter of a lazy module whose shape is not known yet: an empty placeholder until
    materialize(shape) gives it storage (and turns it into a plain Parameter)."""
    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        from ranvier import float32
        super().__init__(_C._empty((0,), dtype or float32, device), requires_grad)
        self._lazy_dtype = dtype or float32

    def materialize(self, shape, device=None, dtype=None):
        """Allocates uninitialised storage of `shape` and becomes a Parameter."""
        data = _C._empty(tuple(shape), dtype or self.dtype, device)
        self.data = data
        del self._lazy_dtype
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return "<UninitializedParameter>"

    def __deepcopy__(self, memo):
        return type(self)(self.requires_grad, dtype=self.dtype)

    def __reduce_ex__(self, proto):
        raise ValueError(_UNINIT_MSG % "pickling")


class UninitializedBuffer(_C.Tensor):
    """A buffer of a lazy module whose shape is not known yet (see UninitializedParameter);
    the owning module replaces it by a real tensor on its first forward."""

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        from ranvier import float32
        super().__init__(_C._empty((0,), dtype or float32, device))
        self._lazy_dtype = dtype or float32
        self.persistent = persistent

    def __repr__(self):
        return "<UninitializedBuffer>"

    def __deepcopy__(self, memo):
        return type(self)(dtype=self._lazy_dtype, persistent=self.persistent)


def _uninit_method(name):
    def method(self, *args, **kwargs):
        raise ValueError(_UNINIT_MSG % ("Tensor.%s" % name))
    method.__name__ = name
    return method


# Reading or updating a placeholder's values (an optimizer step, an init function, arithmetic)
# raises; materialize() turns the object into a Parameter, which drops these overrides.
for _name in ("numpy", "tolist", "item", "copy_", "zero_", "fill_", "uniform_", "normal_",
              "add_", "sub_", "mul_", "div_", "addcmul_", "addcdiv_", "lerp_", "__add__",
              "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
              "__matmul__", "__neg__", "sum", "mean", "norm", "t", "view", "reshape", "mv",
              "dot", "matmul", "clone", "__getitem__", "__setitem__"):
    setattr(UninitializedParameter, _name, _uninit_method(_name))
del _name


def is_lazy(t):
    """Whether t is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(t, (UninitializedParameter, UninitializedBuffer))
