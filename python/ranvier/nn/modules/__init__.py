"""The nn.Module classes."""
from ranvier.nn.modules.module import Module  # noqa: F401
from ranvier.nn.modules.conv import *  # noqa: E402,F401,F403
from ranvier.nn.modules.pooling import *  # noqa: E402,F401,F403
