"""ranvier.utils: PyTorch-style home of `data` (ranvier.utils.data is ranvier.data)."""


def __getattr__(name):
    if name == "data":
        import importlib
        return importlib.import_module("ranvier.utils.data")
    raise AttributeError(f"module 'ranvier.utils' has no attribute {name!r}")
