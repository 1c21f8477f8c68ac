"""ranvier.Size: the type of Tensor.shape, a tuple of ints."""


class Size(tuple):
    """A tensor shape: a tuple of ints with ``numel()``."""

    __slots__ = ()

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return "ranvier.Size([" + ", ".join(str(s) for s in self) + "])"

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r


from ranvier import _C  # noqa: E402

_C._set_size_type(Size)
