"""ranvier.nn.init: in-place initialisers (uniform_, normal_, xavier_*, kaiming_*, orthogonal_,
trunc_normal_, sparse_, eye_, dirac_, ...) drawing from the same distributions as PyTorch's,
plus calculate_gain. Every initialiser runs under no_grad and accepts generator=."""
import math
import warnings

from ranvier._lazy import np

from ranvier import _C
from ranvier.autograd.grad_mode import no_grad


def calculate_gain(nonlinearity, param=None):
    """The recommended gain (std multiplier) for a nonlinearity."""
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError("negative_slope %s not a valid number" % (param,))
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError("Unsupported nonlinearity %s" % (nonlinearity,))


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions (got shape %s)" % list(tensor.shape))
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError("Mode %s not supported, please use one of fan_in, fan_out" % mode)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Normal(mean, std) conditioned on [a, b] (values outside are redrawn)."""
    if not a < b:
        raise ValueError("trunc_normal_: expected a < b, got a=%s, b=%s" % (a, b))
    import ranvier
    with no_grad():
        tensor.normal_(mean, std, generator=generator)
        for _ in range(1000):
            bad = (tensor < a) | (tensor > b)
            if not bool(bad.any()):
                break
            fresh = ranvier.empty(tuple(tensor.shape), dtype=tensor.dtype,
                                  device=tensor.device).normal_(mean, std, generator=generator)
            tensor.copy_(_C.where(bad, fresh, tensor))
        tensor.clamp_(a, b)
    return tensor


def constant_(tensor, val):
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    with no_grad():
        return tensor.zero_()


def eye_(tensor):
    """Fills a 2-D tensor with the identity (ones on the main diagonal)."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported (eye_ got shape %s)"
                         % list(tensor.shape))
    import ranvier
    with no_grad():
        tensor.copy_(ranvier.eye(tensor.shape[0], tensor.shape[1], dtype=tensor.dtype,
                                 device=tensor.device))
    return tensor


def dirac_(tensor, groups=1):
    """Fills a 3/4/5-D conv weight so the convolution is the identity (per group)."""
    d = tensor.dim()
    if d not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported (dirac_ got "
                         "shape %s)" % list(tensor.shape))
    sizes = list(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    min_dim = min(out_per_group, sizes[1])
    arr = np.zeros(sizes, dtype=np.float64)
    centre = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for i in range(min_dim):
            arr[(g * out_per_group + i, i) + centre] = 1.0
    import ranvier
    with no_grad():
        tensor.copy_(ranvier.from_numpy(arr).to(tensor.dtype))
    return tensor


def _no_elements(tensor, name):
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op (%s)" % name)
        return True
    return False


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if _no_elements(tensor, "kaiming_uniform_"):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if _no_elements(tensor, "kaiming_normal_"):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fills with a (semi-)orthogonal matrix (the tensor viewed as (size(0), -1)), times gain."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported (orthogonal_ got "
                         "shape %s)" % list(tensor.shape))
    if tensor.numel() == 0:
        return tensor
    import ranvier
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = ranvier.randn(rows, cols, generator=generator, dtype=ranvier.float64).numpy()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    with no_grad():
        tensor.copy_(ranvier.from_numpy(np.ascontiguousarray(q * gain)).reshape(
            tuple(tensor.shape)).to(tensor.dtype))
    return tensor


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """2-D tensor: Normal(0, std) entries with a fraction `sparsity` of each column zeroed."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported (sparse_ got shape %s)"
                         % list(tensor.shape))
    import ranvier
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    with no_grad():
        tensor.normal_(0, std, generator=generator)
        for c in range(cols):
            idx = ranvier.randperm(rows, generator=generator)[:num_zeros]
            if num_zeros:
                tensor[idx, c] = 0
    return tensor
