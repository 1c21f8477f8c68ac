"""A PyTorch-like __repr__ for tensors: tensor([...], device='cuda:0', dtype=...,
requires_grad=True). A CUDA tensor's values are copied to the host to be printed."""
from ranvier import _C, _dtypes

_DEFAULT_DTYPES = (_dtypes.float32, _dtypes.int64, _dtypes.bool)


def _format_array(arr, indent):
    import numpy as np
    opts = dict(separator=", ", prefix=" " * indent, threshold=1000, edgeitems=3,
                max_line_width=80)
    if arr.dtype == np.bool_:
        return np.array2string(arr, formatter={"bool": lambda v: "True" if v else "False"},
                               **opts)
    if arr.dtype.kind == "f":
        finite = np.abs(arr[np.isfinite(arr)]).astype(np.float64)
        if finite.size and np.all(finite == np.round(finite)) and finite.max() < 1e8:
            return np.array2string(arr, floatmode="unique", **opts)
        nonzero = finite[finite != 0]
        sci = nonzero.size and (nonzero.max() >= 1e8 or nonzero.min() < 1e-4 or
                                nonzero.max() / nonzero.min() > 1e3)
        if sci:
            return np.array2string(arr, formatter={"float_kind": lambda v: "%.4e" % v}, **opts)
        return np.array2string(arr, precision=4, floatmode="fixed", suppress_small=False, **opts)
    return np.array2string(arr, **opts)


def tensor_repr(self):
    t = self.detach()
    if t.device.type != "cpu":
        t = t._to_device(_C.device("cpu"))
    if t.dtype in (_dtypes.bfloat16, _dtypes.float16):
        arr = t._to_dtype(_dtypes.float32)._numpy()
    else:
        arr = t._numpy()
    prefix = "tensor("
    body = _format_array(arr, len(prefix)) if arr.size or arr.ndim == 0 else "[]"
    suffix = []
    if self.device.type != "cpu":
        suffix.append("device='%s'" % self.device)
    if arr.size == 0 and arr.ndim != 1:
        suffix.append("size=(%s)" % ", ".join(str(s) for s in arr.shape))
    if t.dtype not in _DEFAULT_DTYPES:
        suffix.append("dtype=ranvier.%s" % str(t.dtype).split(".")[-1])
    if self.grad_fn is not None:
        suffix.append("grad_fn=<%s>" % self.grad_fn.name())
    elif self.requires_grad:
        suffix.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffix) + ")"
