"""ranvier.nn: modules, parameters and the functional interface."""
from ranvier.nn import functional  # noqa: F401
from ranvier.nn.parameter import Buffer, Parameter  # noqa: F401
from ranvier.nn.modules import Module  # noqa: F401
from ranvier.nn.modules.conv import *  # noqa: E402,F401,F403
from ranvier.nn.modules.pooling import *  # noqa: E402,F401,F403
