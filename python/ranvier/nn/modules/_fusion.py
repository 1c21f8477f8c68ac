"""Note [Fused patterns]: runs of modules inside nn.Sequential that one fused op computes.

Sequential hands Conv2d -> ReLU -> MaxPool2d(2) to `_C._conv2d_relu_max_pool2d` (csrc/ops/
conv_relu_pool.cpp) when the three modules are plain (their own classes, no hooks, no forward
replaced on the instance), the layers' settings are ones the fused kernels compute (3x3, stride
1, no dilation or groups, zero padding; 2x2 / stride 2 pooling without padding, dilation, ceil
mode or indices), autocast is off, and the op accepts the operands: float32 on the CPU, an
even conv output, and a geometry for which conv2d itself runs a kernel with a fused version
(one input channel, or 16 or more channels each side: Winograd) on a CPU with AVX-512 or AVX2.
Everything else runs module by module. The output and every gradient are bit for bit those of
the three modules; what changes is the memory the run touches: the conv output, its relu and
the pool's indices are never written.

Linear -> ReLU (both plain, the Linear with a bias, autocast off) goes to `_C._linear_relu`
when no autograd graph is recorded (under no_grad, or nothing requires grad) and the input is
2-D: one C++ call applies relu in place to the product's fresh output, the same bits as the two
modules without the second module call and its output tensor (inference at batch 1 spends more
on calls than on the ReLU itself).

`ranvier.backends.cpu.fuse_patterns = False` turns this off.
"""
from ranvier import _C
from ranvier.backends import cpu as _cpu_backend
from ranvier.nn.modules.activation import ReLU
from ranvier.nn.modules.conv import Conv2d
from ranvier.nn.modules.linear import Linear
from ranvier.nn.modules.pooling import MaxPool2d

_Tensor = _C.Tensor


def _plain(module):
    d = module.__dict__
    return not (d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"]
                or "forward" in d)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _conv_fits(conv):
    return (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.dilation == (1, 1)
            and conv.groups == 1 and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str))


def _pool_fits(pool):
    return (_pair(pool.kernel_size) == (2, 2) and _pair(pool.stride) == (2, 2)
            and _pair(pool.padding) == (0, 0) and _pair(pool.dilation) == (1, 1)
            and not pool.ceil_mode and not pool.return_indices)


def conv_relu_pool(conv, relu, pool, x):
    """pool(relu(conv(x))) through the fused op, or None when the run does not qualify."""
    if (type(relu) is not ReLU or type(pool) is not MaxPool2d
            or not _cpu_backend.fuse_patterns or not isinstance(x, _Tensor)
            or not (_plain(conv) and _plain(relu) and _plain(pool))
            or not _conv_fits(conv) or not _pool_fits(pool)
            or _C._autocast_is_enabled("cpu")):
        return None
    return _C._conv2d_relu_max_pool2d(x, conv.weight, conv.bias, tuple(conv.padding))


def linear_relu(linear, relu, x):
    """relu(linear(x)) through the fused op, or None when the pair does not qualify (the op
    itself declines a recorded graph, autocast and operands it does not take)."""
    if type(relu) is not ReLU or not _cpu_backend.fuse_patterns or not isinstance(x, _Tensor):
        return None
    params = linear.__dict__["_parameters"]
    weight, bias = params.get("weight"), params.get("bias")
    if weight is None or bias is None:
        return None
    # a training step records a graph, which the op declines: say so before the other checks
    # (they cost a training forward 1 us a pair)
    if _C.is_grad_enabled() and (weight.requires_grad or bias.requires_grad
                                 or x.requires_grad):
        return None
    if not (_plain(linear) and _plain(relu)):
        return None
    return _C._linear_relu(x, weight, bias)


# the module types a fused run may start at (Sequential's cheap first test)
STARTS = (Conv2d, Linear)


def run(mods, i, x):
    """(output, number of modules it covers) of the fused run starting at mods[i], or (None, 0)
    when none applies."""
    m = mods[i]
    if type(m) is Linear:
        return linear_relu(m, mods[i + 1], x), 2
    if i + 2 < len(mods):
        return conv_relu_pool(m, mods[i + 1], mods[i + 2], x), 3
    return None, 0
