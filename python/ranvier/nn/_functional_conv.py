"""Convolution and pooling functions of ranvier.nn.functional (re-exported there).

conv2d and conv_transpose2d are single fused C++ ops (`_C._conv2d`, `_C._conv_transpose2d`:
im2col + OpenBLAS GEMM per sample, bias fused, hand-written backward; csrc/ops/conv2d.cpp).
This module checks arguments (PyTorch's messages), handles unbatched inputs, 'same' padding
(the odd extra on the right/bottom is padded here) and the 1-D forms, which run the 2-D ops on
[N, C, 1, L]. unfold/fold are the im2col/col2im ops. Pooling is in _functional_pool.py.
"""
from ranvier._lazy import np

import ranvier
from ranvier import _C

__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
]


def _tuple(value, n, op, name):
    """An int or a sequence of n ints as an n-tuple (TypeError / RuntimeError naming op)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        vals = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{op}(): {name} must be an int or a tuple of {n} ints, but got "
                        f"{value!r}") from None
    if len(vals) == 1:
        return vals * n
    if len(vals) != n:
        raise RuntimeError(f"{op}(): {name} must be an int or a tuple of {n} ints, but got "
                           f"{value!r}")
    return vals


def _shape(t):
    return list(t.shape)


def _check_float(op, *tensors):
    for t in tensors:
        if t is not None and not t.is_floating_point():
            raise TypeError(f"{op}(): expected float32 or float64 (or float16/bfloat16) "
                            f"tensors, but got {t.dtype}")


def _batched(op, input, spatial):
    """input as [N, C, *spatial] plus whether a batch dim was added (unbatched input)."""
    if input.dim() == spatial + 1:
        return input.unsqueeze(0), True
    if input.dim() == spatial + 2:
        return input, False
    raise RuntimeError(f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) input "
                       f"to {op}, but got input of size: {_shape(input)}")


# ---------------------------------------------------------------------------------------------
# Convolution


def _conv_checks(op, x, weight, bias, stride, padding, dilation, groups, transposed=False):
    if not isinstance(groups, int) or groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported (groups={groups})")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: non-positive stride is not supported (stride={stride})")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation should be greater than zero (dilation={dilation})")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op}: negative padding is not supported (padding={padding})")
    if weight.dim() != x.dim():
        raise RuntimeError(f"{op}: expected weight to be {x.dim()}-D, but got weight of size "
                           f"{_shape(weight)} for input of size {_shape(x)}")
    if any(k <= 0 for k in weight.shape[2:]):
        raise RuntimeError(f"{op}: kernel size should be greater than zero, but got weight of "
                           f"size {_shape(weight)}")
    if transposed:
        cin = weight.shape[0]
        if cin % groups != 0:
            raise RuntimeError(f"{op}: Given groups={groups}, expected weight to be divisible by "
                               f"{groups} at dimension 0, but got weight of size "
                               f"{_shape(weight)} instead")
        if x.shape[1] != cin:
            raise RuntimeError(f"{op}: Given transposed=1, weight of size {_shape(weight)}, "
                               f"expected input{_shape(x)} to have {cin} channels, but got "
                               f"{x.shape[1]} channels instead")
        cout = weight.shape[1] * groups
    else:
        cout = weight.shape[0]
        if cout % groups != 0:
            raise RuntimeError(f"{op}: Given groups={groups}, expected weight to be divisible by "
                               f"{groups} at dimension 0, but got weight of size "
                               f"{_shape(weight)} instead")
        if x.shape[1] != weight.shape[1] * groups:
            raise RuntimeError(f"{op}: Given groups={groups}, weight of size {_shape(weight)}, "
                               f"expected input{_shape(x)} to have {weight.shape[1] * groups} "
                               f"channels, but got {x.shape[1]} channels instead")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != cout):
        raise RuntimeError(f"{op}: expected bias to be 1-D with {cout} elements, but got bias "
                           f"of size {_shape(bias)}")
    _check_float(op, x, weight, bias)
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise TypeError(f"{op}: expected input, weight and bias of one dtype, but got input "
                        f"{x.dtype}, weight {weight.dtype}"
                        + ("" if bias is None else f", bias {bias.dtype}"))


def _conv2d_nchw(op, x, weight, bias, stride, padding, dilation, groups):
    """conv2d on a 4-D input with symmetric padding (padding already validated)."""
    n, c, h, w = x.shape
    cout, cg, kh, kw = weight.shape
    ph, pw = h + 2 * padding[0], w + 2 * padding[1]
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if ph < eh or pw < ew:
        raise RuntimeError(f"{op}: Calculated padded input size per channel: ({ph} x {pw}). "
                           f"Kernel size: ({eh} x {ew}). Kernel size can't be greater than "
                           f"actual input size")
    return _C._conv2d(x, weight, bias, tuple(stride), tuple(padding), tuple(dilation), groups)


def _conv_padding(op, padding, n, weight, dilation, stride):
    """(symmetric padding tuple, extra right-side padding tuple) for int/tuple/'same'/'valid'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * n, (0,) * n
        if padding != "same":
            raise RuntimeError(f"{op}: Invalid padding string: '{padding}'")
        if any(s != 1 for s in stride):
            raise RuntimeError(f"{op}: padding='same' is not supported for strided convolutions")
        ks = weight.shape[2:]
        total = [dilation[i] * (ks[i] - 1) for i in range(n)]
        left = tuple(t // 2 for t in total)
        return left, tuple(total[i] - left[i] - left[i] for i in range(n))
    return _tuple(padding, n, op, "padding"), (0,) * n


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of input [N, C, H, W] or [C, H, W] with weight
    [C_out, C/groups, kh, kw]; padding: int, pair, 'valid' or 'same' (stride 1 only)."""
    op = "conv2d"
    x, unbatched = _batched(op, input, 2)
    stride = _tuple(stride, 2, op, "stride")
    dilation = _tuple(dilation, 2, op, "dilation")
    _conv_checks(op, x, weight, bias, stride, (0, 0), dilation, groups)
    pad, extra = _conv_padding(op, padding, 2, weight, dilation, stride)
    _conv_checks(op, x, weight, bias, stride, pad, dilation, groups)
    if any(extra):
        x = ranvier.nn.functional.pad(x, (0, extra[1], 0, extra[0]))
    out = _conv2d_nchw(op, x, weight, bias, stride, pad, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of input [N, C, L] or [C, L] with weight [C_out, C/groups, k]."""
    op = "conv1d"
    x, unbatched = _batched(op, input, 1)
    stride = _tuple(stride, 1, op, "stride")
    dilation = _tuple(dilation, 1, op, "dilation")
    _conv_checks(op, x, weight, bias, stride, (0,), dilation, groups)
    pad, extra = _conv_padding(op, padding, 1, weight, dilation, stride)
    _conv_checks(op, x, weight, bias, stride, pad, dilation, groups)
    if extra[0]:
        x = ranvier.nn.functional.pad(x, (0, extra[0]))
    out = _conv2d_nchw(op, x.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride[0]),
                       (0, pad[0]), (1, dilation[0]), groups).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _conv_transpose2d_nchw(op, x, weight, bias, stride, padding, output_padding, groups,
                           dilation):
    n, cin, h, w = x.shape
    _, cog, kh, kw = weight.shape
    for i in range(2):
        if output_padding[i] < 0 or not (output_padding[i] < stride[i]
                                         or output_padding[i] < dilation[i]):
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or "
                               f"dilation, but got output_padding={tuple(output_padding)}, "
                               f"stride={tuple(stride)}, dilation={tuple(dilation)}")
    full = [(h - 1) * stride[0] + dilation[0] * (kh - 1) + 1,
            (w - 1) * stride[1] + dilation[1] * (kw - 1) + 1]
    outs = [full[i] - 2 * padding[i] + output_padding[i] for i in range(2)]
    if outs[0] <= 0 or outs[1] <= 0:
        raise RuntimeError(f"{op}: Given input size {_shape(x)}, calculated output size "
                           f"({outs[0]} x {outs[1]}) is too small")
    return _C._conv_transpose2d(x, weight, bias, tuple(stride), tuple(padding),
                                tuple(output_padding), tuple(dilation), groups)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution (the adjoint of conv2d) with weight [C_in, C_out/groups, kh,
    kw]; output size (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1."""
    op = "conv_transpose2d"
    x, unbatched = _batched(op, input, 2)
    stride = _tuple(stride, 2, op, "stride")
    padding = _tuple(padding, 2, op, "padding")
    output_padding = _tuple(output_padding, 2, op, "output_padding")
    dilation = _tuple(dilation, 2, op, "dilation")
    _conv_checks(op, x, weight, bias, stride, padding, dilation, groups, transposed=True)
    out = _conv_transpose2d_nchw(op, x, weight, bias, stride, padding, output_padding, groups,
                                 dilation)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 1-D convolution with weight [C_in, C_out/groups, k]."""
    op = "conv_transpose1d"
    x, unbatched = _batched(op, input, 1)
    stride = _tuple(stride, 1, op, "stride")
    padding = _tuple(padding, 1, op, "padding")
    output_padding = _tuple(output_padding, 1, op, "output_padding")
    dilation = _tuple(dilation, 1, op, "dilation")
    _conv_checks(op, x, weight, bias, stride, padding, dilation, groups, transposed=True)
    out = _conv_transpose2d_nchw(op, x.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride[0]),
                                 (0, padding[0]), (0, output_padding[0]), groups,
                                 (1, dilation[0])).squeeze(2)
    return out.squeeze(0) if unbatched else out


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of a [N, C, H, W] (or [C, H, W]) input as columns [N, C*kh*kw, L]."""
    op = "unfold"
    x, unbatched = _batched(op, input, 2)
    out = _C._im2col(x, _tuple(kernel_size, 2, op, "kernel_size"),
                     _tuple(dilation, 2, op, "dilation"), _tuple(padding, 2, op, "padding"),
                     _tuple(stride, 2, op, "stride"))
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sums columns [N, C*kh*kw, L] (or [C*kh*kw, L]) back into an image [N, C, *output_size]."""
    op = "fold"
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to fold, but got "
                           f"input of size: {_shape(input)}")
    unbatched = input.dim() == 2
    x = input.unsqueeze(0) if unbatched else input
    out = _C._col2im(x, _tuple(output_size, 2, op, "output_size"),
                     _tuple(kernel_size, 2, op, "kernel_size"),
                     _tuple(dilation, 2, op, "dilation"), _tuple(padding, 2, op, "padding"),
                     _tuple(stride, 2, op, "stride"))
    return out.squeeze(0) if unbatched else out
