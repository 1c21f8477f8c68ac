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
