"""ranvier.nn.functional: functional forms of layers (padding, one_hot, linear, embedding,
dropout, activations, ...); the bodies live in small nn/_functional_*.py modules."""
from ranvier import _C


def pad(input, pad, mode="constant", value=None):
    """Pads the last len(pad) // 2 dims of input: pad = (left_last, right_last, left_prev, ...).
    mode: 'constant' (with value, default 0), 'reflect', 'replicate' or 'circular'."""
    return _C.pad(input, tuple(pad), mode, value)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape tensor.shape + (num_classes,) with a 1 at each class index."""
    return _C._one_hot(tensor, num_classes)


from ranvier.nn._functional_basic import (  # noqa: E402,F401
    linear, bilinear, embedding, embedding_bag)
from ranvier.nn._functional_dropout import (  # noqa: E402,F401
    dropout, dropout1d, dropout2d, dropout3d, alpha_dropout, feature_alpha_dropout)
from ranvier.nn._functional_activation import (  # noqa: E402,F401
    relu, relu_, relu6, leaky_relu, leaky_relu_, prelu, elu, elu_, selu, selu_, celu, celu_, gelu,
    silu, mish, sigmoid, tanh, hardtanh, hardtanh_, hardsigmoid, hardswish, softplus, softsign,
    tanhshrink, logsigmoid, glu, threshold, threshold_, softshrink, hardshrink)
from ranvier.nn._functional_conv import *  # noqa: E402,F401,F403  (conv, unfold, fold)
from ranvier.nn._functional_pool import *  # noqa: E402,F401,F403  (pooling)
