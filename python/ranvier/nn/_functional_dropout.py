"""Functional dropout: dropout, dropout1d/2d/3d (whole channels), alpha_dropout and
feature_alpha_dropout. Masks come from ranvier's seeded generator."""
from ranvier import _C

_SELU_NEG = -1.7580993408473766  # -scale * alpha of selu: the value selu saturates to


def _check_p(op, p):
    if not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError("%s probability has to be between 0 and 1, but got %s" % (op, p))


def _keep_mask(input, shape, p, generator=None):
    """A mask of the given shape with ones kept with probability 1 - p, in input's dtype."""
    import ranvier
    dt = input.dtype if input.is_floating_point() else ranvier.float32
    m = ranvier.empty(tuple(shape), dtype=dt, device=input.device)
    return m.bernoulli_(1.0 - p, generator=generator)


def _finish(input, out, inplace):
    if not inplace:
        return out
    return input.copy_(out)


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Zeroes each element with probability p and scales the rest by 1 / (1 - p)."""
    _check_p("dropout", p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _finish(input, input * 0, inplace)
    mask = _keep_mask(input, tuple(input.shape), p, generator) * (1.0 / (1.0 - p))
    return _finish(input, input * mask, inplace)


def _feature_dropout(op, input, p, training, inplace, batched_dim, generator=None):
    _check_p(op, p)
    if input.dim() not in (batched_dim - 1, batched_dim):
        raise RuntimeError("%s: Expected %dD or %dD input, but received a %dD input (shape %s)"
                           % (op, batched_dim - 1, batched_dim, input.dim(),
                              list(input.shape)))
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _finish(input, input * 0, inplace)
    lead = 2 if input.dim() == batched_dim else 1
    shape = tuple(input.shape[:lead]) + (1,) * (input.dim() - lead)
    mask = _keep_mask(input, shape, p, generator) * (1.0 / (1.0 - p))
    return _finish(input, input * mask, inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, L) or (C, L) inputs."""
    return _feature_dropout("dropout1d", input, p, training, inplace, 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, H, W) or (C, H, W) inputs."""
    return _feature_dropout("dropout2d", input, p, training, inplace, 4)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) inputs."""
    return _feature_dropout("dropout3d", input, p, training, inplace, 5)


def _alpha(op, input, p, training, inplace, mask_shape):
    _check_p(op, p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _finish(input, input * 0, inplace)
    keep = _keep_mask(input, mask_shape, p)
    a = ((1.0 - p) * (1.0 + p * _SELU_NEG ** 2)) ** -0.5
    b = -a * _SELU_NEG * p
    out = (input * keep + (1.0 - keep) * _SELU_NEG) * a + b
    return _finish(input, out, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for selu networks: dropped values become selu's saturation value and an affine
    map keeps mean and variance."""
    return _alpha("alpha_dropout", input, p, training, inplace, tuple(input.shape))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    lead = min(2, input.dim())
    shape = tuple(input.shape[:lead]) + (1,) * (input.dim() - lead)
    return _alpha("feature_alpha_dropout", input, p, training, inplace, shape)
