"""The nn.Module classes."""
from ranvier.nn.modules.module import Module  # noqa: F401
