"""ranvier.nn.functional: functional forms of layers (padding and one_hot so far)."""
from ranvier import _C


def pad(input, pad, mode="constant", value=None):
    """Pads the last len(pad) // 2 dims of input: pad = (left_last, right_last, left_prev, ...).
    mode: 'constant' (with value, default 0), 'reflect', 'replicate' or 'circular'."""
    return _C.pad(input, tuple(pad), mode, value)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape tensor.shape + (num_classes,) with a 1 at each class index."""
    return _C._one_hot(tensor, num_classes)


from ranvier.nn._functional_conv import *  # noqa: E402,F401,F403  (conv, unfold, fold)
from ranvier.nn._functional_pool import *  # noqa: E402,F401,F403  (pooling)
