"""Pooling functions of ranvier.nn.functional (re-exported there).

Max, average and adaptive pooling are fused C++ ops (`_C._max_pool2d`,
`_C._adaptive_max_pool2d`, `_C._avg_pool2d`, `_C._adaptive_avg_pool2d`, csrc/ops/pool.cpp) with
hand-written backward kernels; max pooling returns PyTorch's flat per-plane argmax indices
(y * W + x). This module checks arguments and handles unbatched inputs; the 1-D forms run the
2-D ops on [N, C, 1, L]. Unpooling scatters into zeros.
"""
from ranvier._lazy import np

import ranvier
from ranvier import _C
from ranvier.nn._functional_conv import _batched, _check_float, _shape, _tuple

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices", "max_unpool1d", "max_unpool2d", "lp_pool1d", "lp_pool2d",
]


def _pool_len(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    n = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (n - 1) * s >= size + p:
        n -= 1
    return n


def _pool_args(op, n, kernel_size, stride, padding, dilation=1):
    k = _tuple(kernel_size, n, op, "kernel_size")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _tuple(stride, n, op, "stride")
    p = _tuple(padding, n, op, "padding")
    d = _tuple(dilation, n, op, "dilation")
    if any(v <= 0 for v in k):
        raise RuntimeError(f"{op}(): kernel_size must be greater than zero, but got {k}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"{op}(): stride must be greater than zero, but got {s}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"{op}(): dilation must be greater than zero, but got {d}")
    if any(p[i] < 0 or p[i] > k[i] // 2 for i in range(n)):
        raise RuntimeError(f"{op}(): pad should be at most half of effective kernel size, but "
                           f"got pad={p}, kernel_size={k}")
    return k, s, p, d


def _pool_input(op, input, spatial):
    x, unbatched = _batched(op, input, spatial)
    if any(v == 0 for v in x.shape[2:]):
        raise RuntimeError(f"{op}(): expected non-empty spatial dims, but got input of size "
                           f"{_shape(input)}")
    _check_float(op, x)
    return x, unbatched


def _out_sizes(op, x, k, s, p, d, ceil_mode):
    outs = [_pool_len(x.shape[2 + i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(2)]
    if outs[0] <= 0 or outs[1] <= 0:
        raise RuntimeError(f"{op}(): Given input size {_shape(x)}, calculated output size "
                           f"({outs[0]} x {outs[1]}) is too small")
    return outs


def _max_pool2d_impl(op, x, k, s, p, d, ceil_mode):
    _out_sizes(op, x, k, s, p, d, ceil_mode)
    return _C._max_pool2d(x, k, s, p, d, bool(ceil_mode))


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """(values, flat per-plane int64 indices) of 2-D max pooling."""
    op = "max_pool2d"
    k, s, p, d = _pool_args(op, 2, kernel_size, stride, padding, dilation)
    x, unbatched = _pool_input(op, input, 2)
    out, idx = _max_pool2d_impl(op, x, k, s, p, d, ceil_mode)
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling over [N, C, H, W] or [C, H, W]; stride defaults to kernel_size."""
    out, idx = max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (out, idx) if return_indices else out


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """(values, int64 indices) of 1-D max pooling."""
    op = "max_pool1d"
    k, s, p, d = _pool_args(op, 1, kernel_size, stride, padding, dilation)
    x, unbatched = _pool_input(op, input, 1)
    out, idx = _max_pool2d_impl(op, x.unsqueeze(2), (1, k[0]), (1, s[0]), (0, p[0]),
                                (1, d[0]), ceil_mode)
    out, idx = out.squeeze(2), idx.squeeze(2)
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over [N, C, L] or [C, L]; stride defaults to kernel_size."""
    out, idx = max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (out, idx) if return_indices else out


def _avg_pool2d_impl(op, x, k, s, p, ceil_mode, count_include_pad, divisor_override):
    _out_sizes(op, x, k, s, p, (1, 1), ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{op}(): divisor must be not zero")
    return _C._avg_pool2d(x, k, s, p, bool(ceil_mode), bool(count_include_pad),
                          0 if divisor_override is None else int(divisor_override))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling over [N, C, H, W] or [C, H, W]."""
    op = "avg_pool2d"
    k, s, p, _ = _pool_args(op, 2, kernel_size, stride, padding)
    x, unbatched = _pool_input(op, input, 2)
    out = _avg_pool2d_impl(op, x, k, s, p, ceil_mode, count_include_pad, divisor_override)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling over [N, C, L] or [C, L]."""
    op = "avg_pool1d"
    k, s, p, _ = _pool_args(op, 1, kernel_size, stride, padding)
    x, unbatched = _pool_input(op, input, 1)
    out = _avg_pool2d_impl(op, x.unsqueeze(2), (1, k[0]), (1, s[0]), (0, p[0]), ceil_mode,
                           count_include_pad, None).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _adaptive_sizes(op, output_size, x, n):
    if isinstance(output_size, int):
        sizes = (output_size,) * n
    else:
        sizes = tuple(output_size)
        if len(sizes) == 1:
            sizes = sizes * n
        if len(sizes) != n:
            raise RuntimeError(f"{op}(): output_size must be an int or {n} values, but got "
                               f"{output_size!r}")
    sizes = tuple(x.shape[2 + i] if v is None else int(v) for i, v in enumerate(sizes))
    if any(v < 0 for v in sizes):
        raise RuntimeError(f"{op}(): output_size must be non-negative, but got {sizes}")
    return sizes


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (None keeps that input dim)."""
    op = "adaptive_avg_pool2d"
    x, unbatched = _pool_input(op, input, 2)
    oh, ow = _adaptive_sizes(op, output_size, x, 2)
    out = _C._adaptive_avg_pool2d(x, (oh, ow))
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input, output_size):
    """1-D average pooling to a fixed output length."""
    op = "adaptive_avg_pool1d"
    x, unbatched = _pool_input(op, input, 1)
    (ol,) = _adaptive_sizes(op, output_size, x, 1)
    out = _C._adaptive_avg_pool2d(x.unsqueeze(2), (1, ol)).squeeze(2)
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """(values, flat per-plane indices) of adaptive 2-D max pooling."""
    op = "adaptive_max_pool2d"
    x, unbatched = _pool_input(op, input, 2)
    sizes = _adaptive_sizes(op, output_size, x, 2)
    out, idx = _C._adaptive_max_pool2d(x, sizes)
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size (None keeps that input dim)."""
    out, idx = adaptive_max_pool2d_with_indices(input, output_size)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    """(values, indices) of adaptive 1-D max pooling."""
    op = "adaptive_max_pool1d"
    x, unbatched = _pool_input(op, input, 1)
    (ol,) = _adaptive_sizes(op, output_size, x, 1)
    x4 = x.unsqueeze(2)
    out, idx = _C._adaptive_max_pool2d(x4, (1, ol))
    out, idx = out.squeeze(2), idx.squeeze(2)
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1-D max pooling to a fixed output length."""
    out, idx = adaptive_max_pool1d_with_indices(input, output_size)
    return (out, idx) if return_indices else out


def _unpool(op, input, indices, n, kernel_size, stride, padding, output_size):
    k, s, p, _ = _pool_args(op, n, kernel_size, stride, padding)
    x, unbatched = _batched(op, input, n)
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}(): expected indices of the input's shape {_shape(input)}, but "
                           f"got indices of size {_shape(indices)}")
    idx = indices.unsqueeze(0) if unbatched else indices
    default = [(x.shape[2 + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(n)]
    if output_size is None:
        out_sz = default
    else:
        out_sz = [int(v) for v in tuple(output_size)[-n:]]
        if len(tuple(output_size)) not in (n, n + 1, n + 2):
            raise RuntimeError(f"{op}(): output_size must have {n}, {n + 1} or {n + 2} "
                               f"elements, but got {tuple(output_size)}")
        for i in range(n):
            lo, hi = default[i] - s[i], default[i] + s[i]
            if not lo < out_sz[i] < hi:
                raise RuntimeError(f"{op}(): invalid output_size {tuple(output_size)} (dim {i} "
                                   f"must be between {lo + 1} and {hi - 1})")
    plane = int(np.prod(out_sz))
    nb, c = x.shape[0], x.shape[1]
    flat_idx = idx.reshape(nb, c, -1)
    if flat_idx.numel() > 0:
        lo, hi = int(flat_idx.min().item()), int(flat_idx.max().item())
        if lo < 0 or hi >= plane:
            raise RuntimeError(f"{op}(): Found an invalid max index {hi if hi >= plane else lo} "
                               f"(output volume of size {out_sz})")
    zeros = ranvier.zeros((nb, c, plane), dtype=x.dtype, device=x.device)
    out = zeros.scatter(2, flat_idx, x.reshape(nb, c, -1)).reshape(nb, c, *out_sz)
    return out.squeeze(0) if unbatched else out


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Places each value at its max_pool2d index in a zero image (the partial inverse)."""
    return _unpool("max_unpool2d", input, indices, 2, kernel_size, stride, padding, output_size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Places each value at its max_pool1d index in a zero signal."""
    return _unpool("max_unpool1d", input, indices, 1, kernel_size, stride, padding, output_size)


def _lp_finish(out, norm_type, area):
    return (ranvier.sign(out) * ranvier.relu(ranvier.abs(out))).mul(area).pow(1.0 / norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: (sum over the window of x ** p) ** (1 / p)."""
    kh, kw = _tuple(kernel_size, 2, "lp_pool2d", "kernel_size")
    out = avg_pool2d(input.pow(norm_type), (kh, kw), stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, kh * kw)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """1-D power-average pooling."""
    (k,) = _tuple(kernel_size, 1, "lp_pool1d", "kernel_size")
    out = avg_pool1d(input.pow(norm_type), k, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, k)
