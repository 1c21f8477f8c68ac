"""Resizing functions of ranvier.nn.functional (re-exported there): interpolate and its
deprecated aliases upsample / upsample_nearest / upsample_bilinear, pixel_shuffle /
pixel_unshuffle and channel_shuffle.

interpolate resolves size / scale_factor / recompute_scale_factor as PyTorch does and calls the
C++ op `_C._upsample` (nearest, nearest-exact, linear, cubic; see csrc/ops/upsample.h for the
coordinate rules; mode 'area' is adaptive average pooling). The shuffles are reshape/permute
views.
"""
import math
import warnings

from ranvier import _C

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "channel_shuffle"]

_MODES = "nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact"
# mode -> (number of spatial dims it needs or None for any, C++ mode)
_NEEDS = {"linear": (1, "linear"), "bilinear": (2, "linear"), "trilinear": (3, "linear"),
          "bicubic": (2, "cubic"), "nearest": (None, "nearest"),
          "nearest-exact": (None, "nearest-exact"), "area": (None, "area")}


def _per_dim(value, dim, what, input):
    if isinstance(value, (list, tuple)) or (isinstance(value, _C.Tensor) and value.dim() > 0):
        value = list(value)
        if len(value) != dim:
            raise ValueError("Input and %s must have the same number of spatial dimensions, but "
                             "got input with spatial dimensions of %s and %s of %s. Please "
                             "provide input tensor in (N, C, d1, d2, ...,dK) format and %s in "
                             "(o1, o2, ...,oK) format." % (what, list(input.shape[2:]), what,
                                                           value, what))
        return value
    return [value] * dim


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resizes [N, C, *spatial] input (1-3 spatial dims) to `size` or by `scale_factor`."""
    if not isinstance(input, _C.Tensor):
        raise TypeError("interpolate(): argument 'input' must be a Tensor, not %s"
                        % type(input).__name__)
    if mode not in _NEEDS:
        raise NotImplementedError("Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  "%dD) for the modes: %s (got %s)" % (input.dim(), _MODES, mode))
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if input.dim() < 3 or input.dim() > 5:
        raise NotImplementedError("Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  "%dD) for the modes: %s (got %s)" % (input.dim(), _MODES, mode))
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    output_size = scales = None
    if size is not None:
        output_size = [int(s) for s in _per_dim(size, dim, "output size", input)]
    else:
        scales = [float(s) for s in _per_dim(scale_factor, dim, "scale_factor", input)]
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if scales is not None:
        output_size = [int(math.floor(float(input.shape[i + 2]) * scales[i]))
                       for i in range(dim)]
        if recompute_scale_factor:
            scales = None
    if antialias:
        if not (mode in ("bilinear", "bicubic") and input.dim() == 4):
            raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and "
                             "requires a 4-D tensor as input")
    need, cmode = _NEEDS[mode]
    if antialias:
        cmode += "-aa"
    if need is not None and need != dim:
        raise NotImplementedError("Got %dD input, but %s mode needs %dD input"
                                  % (input.dim(), mode, need + 2))
    return _C._upsample(input, cmode, output_size, bool(align_corners), scales or [])


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(input, size, scale_factor, mode='nearest')."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def _shuffle_check(op, input, factor, what):
    if not isinstance(factor, int) or isinstance(factor, bool):
        raise TypeError("%s(): argument '%s' must be int, not %s"
                        % (op, what, type(factor).__name__))
    if input.dim() < 3:
        raise RuntimeError("%s expects input to have at least 3 dimensions, but got input with "
                           "%d dimension(s)" % (op, input.dim()))
    if factor <= 0:
        raise RuntimeError("%s expects a positive %s, but got %d" % (op, what, factor))


def pixel_shuffle(input, upscale_factor):
    """[*, C*r*r, H, W] -> [*, C, H*r, W*r]."""
    _shuffle_check("pixel_shuffle", input, upscale_factor, "upscale_factor")
    r = upscale_factor
    *batch, c, h, w = input.shape
    if c % (r * r) != 0:
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be divisible "
                           "by the square of upscale_factor, but input.size(-3)=%d is not "
                           "divisible by %d" % (c, r * r))
    nb = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    perm = list(range(nb)) + [nb, nb + 3, nb + 1, nb + 4, nb + 2]
    return x.permute(*perm).reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """[*, C, H*r, W*r] -> [*, C*r*r, H, W]."""
    _shuffle_check("pixel_unshuffle", input, downscale_factor, "downscale_factor")
    r = downscale_factor
    *batch, c, h, w = input.shape
    if h % r != 0 or w % r != 0:
        which, n = ("height", h) if h % r != 0 else ("width", w)
        raise RuntimeError("pixel_unshuffle expects %s to be divisible by downscale_factor, but "
                           "input.size(%d)=%d is not divisible by %d"
                           % (which, -2 if which == "height" else -1, n, r))
    nb = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    perm = list(range(nb)) + [nb, nb + 2, nb + 4, nb + 1, nb + 3]
    return x.permute(*perm).reshape(*batch, c * r * r, h // r, w // r)


def channel_shuffle(input, groups):
    """[N, g*k, *] -> [N, k*g, *]: channels regrouped from (g, k) to (k, g) order."""
    if input.dim() < 3:
        raise RuntimeError("channel_shuffle expects input to have at least 3 dimensions, but "
                           "got input with %d dimension(s)" % input.dim())
    if groups <= 0:
        raise RuntimeError("Number of groups to divide channels in must be positive. Value of "
                           "groups:%d" % groups)
    n, c, *rest = input.shape
    if c % groups != 0:
        raise RuntimeError("Number of channels must be divisible by groups. Got %d channels and "
                           "%d groups." % (c, groups))
    x = input.reshape(n, groups, c // groups, *rest).transpose(1, 2)
    return x.reshape(n, c, *rest)
