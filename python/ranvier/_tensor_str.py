"""A PyTorch-like __repr__ for tensors: tensor([...], dtype=..., requires_grad=True)."""
from ranvier import _dtypes

_DEFAULT_DTYPES = (_dtypes.float32, _dtypes.int64, _dtypes.bool)


def _format_array(arr, indent):
    import numpy as np
    if arr.dtype == np.bool_:
        formatter = {"bool": lambda v: "True" if v else "False"}
    elif arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
            formatter = {"float_kind": lambda v: ("%.0f." % v) if np.isfinite(v)
                         else ("nan" if np.isnan(v) else ("inf" if v > 0 else "-inf"))}
        else:
            big = finite.size and (np.abs(finite).max() >= 1e8 or
                                   (np.abs(finite[finite != 0]).min() < 1e-4
                                    if np.any(finite != 0) else False))
            if big:
                formatter = {"float_kind": lambda v: "%.4e" % v}
            else:
                formatter = {"float_kind": lambda v: ("%.4f" % v) if np.isfinite(v)
                             else ("nan" if np.isnan(v) else ("inf" if v > 0 else "-inf"))}
    else:
        formatter = None
    return np.array2string(arr, separator=", ", prefix=" " * indent, formatter=formatter,
                           threshold=1000, edgeitems=3, max_line_width=80)


def tensor_repr(self):
    t = self.detach()
    if t.dtype in (_dtypes.bfloat16, _dtypes.float16):
        arr = t._to_dtype(_dtypes.float32)._numpy()
    else:
        arr = t._numpy()
    prefix = "tensor("
    body = _format_array(arr, len(prefix)) if arr.size or arr.ndim == 0 else "[]"
    suffix = []
    if arr.size == 0 and arr.ndim != 1:
        suffix.append("size=(%s)" % ", ".join(str(s) for s in arr.shape))
    if t.dtype not in _DEFAULT_DTYPES:
        suffix.append("dtype=ranvier.%s" % str(t.dtype).split(".")[-1])
    if self.grad_fn is not None:
        suffix.append("grad_fn=<%s>" % self.grad_fn.name())
    elif self.requires_grad:
        suffix.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffix) + ")"
