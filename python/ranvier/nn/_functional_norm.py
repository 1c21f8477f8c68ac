"""nn.functional normalisation: batch_norm and layer_norm run fused C++ kernels; group_norm
(layer_norm over groups, then the affine), instance_norm (batch_norm over N*C channels),
rms_norm and local_response_norm are compositions."""
import ranvier
from ranvier import _C


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalises each channel of input (N, C, *) with batch statistics (training; the running
    stats, when given, are updated in place with momentum and the unbiased variance) or with
    running_mean / running_var (eval)."""
    return _C._batch_norm(input, running_mean, running_var, weight, bias, bool(training),
                          float(momentum), float(eps))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalises over the trailing dims given by normalized_shape, then weight * x + bias."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return _C._layer_norm(input, tuple(normalized_shape), weight, bias, float(eps))


def _channel_view(t, ndim):
    return t.reshape([1, -1] + [1] * (ndim - 2))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalises input (N, C, *) over each group of C // num_groups channels (and all spatial
    positions), then applies the per-channel affine."""
    if input.dim() < 2:
        raise RuntimeError("group_norm: expected an input with at least 2 dims, got shape %s"
                           % (tuple(input.shape),))
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups != 0:
        raise RuntimeError("group_norm: expected number of channels in input (%d) to be "
                           "divisible by num_groups (%d)" % (c, num_groups))
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.numel() != c:
            raise RuntimeError("group_norm: expected %s of %d elements, got shape %s"
                               % (name, c, tuple(p.shape)))
    per = input.numel() // (n * num_groups) if n * num_groups else 0
    x = input.reshape(n, num_groups, per)
    y = layer_norm(x, (per,), eps=eps).reshape(tuple(input.shape))
    if weight is not None:
        y = y * _channel_view(weight, input.dim())
    if bias is not None:
        y = y + _channel_view(bias, input.dim())
    return y


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalises each (sample, channel) plane of input (N, C, *) with its own statistics
    (use_input_stats) or with the running stats; running stats, when given, are updated with
    the mean over the batch of the per-instance statistics."""
    if input.dim() < 2:
        raise RuntimeError("instance_norm: expected an input with at least 2 dims, got shape %s"
                           % (tuple(input.shape),))
    n, c = input.shape[0], input.shape[1]
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    spatial = input.numel() // (n * c) if n * c else 0
    if spatial == 1:
        raise ValueError("Expected more than 1 spatial element when training, got input size %s"
                         % (tuple(input.shape),))
    x = input.reshape(1, n * c, -1)
    rm = rv = None
    if running_mean is not None:
        rm = running_mean.detach().repeat(n)
        rv = running_var.detach().repeat(n)
    y = batch_norm(x, rm, rv, None, None, True, momentum, eps).reshape(tuple(input.shape))
    if running_mean is not None:
        with ranvier.no_grad():
            running_mean.copy_(rm.reshape(n, c).mean(0))
            running_var.copy_(rv.reshape(n, c).mean(0))
    if weight is not None:
        y = y * _channel_view(weight, input.dim())
    if bias is not None:
        y = y + _channel_view(bias, input.dim())
    return y


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2 over the trailing normalized_shape dims) + eps) * weight; eps None
    uses the dtype's machine epsilon."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(input.shape[input.dim() - k:]) != normalized_shape or k > input.dim():
        raise RuntimeError("rms_norm: normalized_shape %s does not match the trailing dims of "
                           "the input of shape %s" % (normalized_shape, tuple(input.shape)))
    if eps is None:
        eps = {ranvier.float64: 2.220446049250313e-16, ranvier.float16: 0.0009765625,
               ranvier.bfloat16: 0.0078125}.get(input.dtype, 1.1920928955078125e-07)
    dims = tuple(range(input.dim() - k, input.dim()))
    y = input * ranvier.rsqrt((input * input).mean(dims, keepdim=True) + eps) if k else input * \
        ranvier.rsqrt(input * input + eps)
    if weight is not None:
        y = y * weight
    return y


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over a window of `size` neighbouring channels) ** beta."""
    if input.dim() < 3:
        raise ValueError("local_response_norm: expected 3D or higher dimensional input, got "
                         "shape %s" % (tuple(input.shape),))
    if input.numel() == 0:
        return input.clone()
    c = input.shape[1]
    sq = (input * input).movedim(1, -1)
    padded = _C.pad(sq, (size // 2, (size - 1) // 2), "constant", 0.0)
    acc = padded[..., 0:c]
    for i in range(1, size):
        acc = acc + padded[..., i:i + c]
    div = (acc * (alpha / size) + k) ** beta
    return input / div.movedim(-1, 1)
