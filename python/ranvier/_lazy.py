"""`np`: NumPy, imported on first use, so that `import ranvier` stays fast."""


class _LazyNumpy:
    def __getattr__(self, name):
        import numpy
        return getattr(numpy, name)


np = _LazyNumpy()
