"""ranvier.nn: modules, parameters and the functional interface."""
from ranvier.nn import functional  # noqa: F401
from ranvier.nn.parameter import (Buffer, Parameter, UninitializedBuffer,  # noqa: F401
                                  UninitializedParameter)
from ranvier.nn.modules import *  # noqa: F401,F403
from ranvier.nn import init  # noqa: F401
from ranvier.nn import utils  # noqa: F401
