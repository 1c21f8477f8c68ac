"""ranvier.nn: neural-network building blocks."""
from ranvier.nn import functional  # noqa: F401
