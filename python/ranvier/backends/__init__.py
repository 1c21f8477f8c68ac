"""ranvier.backends: switches for how the backends compute (PyTorch's torch.backends).

``ranvier.backends.cpu.fuse_patterns`` -- whether nn.Sequential runs module patterns with fused
CPU kernels as one op (same results; see ranvier/backends/cpu.py).

``ranvier.backends.cuda.matmul.allow_tf32`` -- whether float32 matrix products on CUDA may use
TF32 tensor cores. It is a view of the float32 matmul precision
(:func:`ranvier.set_float32_matmul_precision`): True means "high" (or "medium"), False means
"highest". The setting lives in the core library, where the CUDA GEMM reads it at every call.
"""
from ranvier.backends import cpu, cuda  # noqa: F401

_PRECISIONS = ("highest", "high", "medium")


def set_float32_matmul_precision(precision):
    """Sets the internal precision of float32 matrix products: "highest" (float32 throughout,
    the default), "high" (TF32 tensor cores allowed on CUDA) or "medium" (bfloat16-based tensor
    cores allowed on CUDA). CPU products always compute in float32. As in PyTorch, another
    string only warns and changes nothing; a non-string raises RuntimeError."""
    from ranvier import _C
    if not isinstance(precision, str):
        raise RuntimeError("set_float32_matmul_precision expects a str, but got %s"
                           % type(precision).__name__)
    if precision not in _PRECISIONS:
        import warnings
        warnings.warn("%s is not one of 'highest', 'high', or 'medium'; the "
                      "set_float32_matmul_precision call has no effect." % precision,
                      UserWarning, stacklevel=2)
        return
    _C._set_float32_matmul_precision(_PRECISIONS.index(precision))


def get_float32_matmul_precision():
    """The current float32 matmul precision: "highest", "high" or "medium"."""
    from ranvier import _C
    return _PRECISIONS[_C._get_float32_matmul_precision()]
