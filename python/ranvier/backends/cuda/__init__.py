"""ranvier.backends.cuda: switches of the CUDA backend.

``matmul.allow_tf32`` (default False, as in PyTorch): float32 GEMMs on CUDA may use TF32 tensor
cores (10-bit mantissa inputs, float32 accumulation). Setting it sets the float32 matmul
precision to "high" (True) or "highest" (False).
"""


class _MatmulFlags:
    """``ranvier.backends.cuda.matmul``: reads and writes the core's float32 matmul precision."""

    __slots__ = ()

    @property
    def allow_tf32(self):
        from ranvier import backends
        return backends.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value):
        from ranvier import backends
        if not isinstance(value, bool):
            raise RuntimeError("allow_tf32 expects a bool, but got %s" % type(value).__name__)
        backends.set_float32_matmul_precision("high" if value else "highest")

    def __setattr__(self, name, value):
        if name != "allow_tf32":
            raise AttributeError("Unknown attribute %s" % name)
        object.__setattr__(self, name, value)

    def __repr__(self):
        return "ranvier.backends.cuda.matmul(allow_tf32=%s)" % self.allow_tf32


matmul = _MatmulFlags()
