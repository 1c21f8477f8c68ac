"""Functional activations (relu family, elu family, gelu/silu/mish, shrink functions, glu, ...),
composed from differentiable ranvier ops."""
from ranvier import _C

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _write_back(input, fn):
    """inplace=True for composite activations: compute fn on (a copy of) input and copy the
    result into input."""
    if input.requires_grad and _C.is_grad_enabled():
        out = fn(input.clone())
    else:
        out = fn(input)
    return input.copy_(out)


def _apply(input, fn, inplace):
    return _write_back(input, fn) if inplace else fn(input)


def relu(input, inplace=False):
    return _C.relu_(input) if inplace else _C.relu(input)


def relu_(input):
    return _C.relu_(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("hardtanh: min_val (%s) cannot be greater than max_val (%s)"
                         % (min_val, max_val))
    return _C.clamp_(input, min_val, max_val) if inplace else _C.clamp(input, min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _apply(input, lambda x: _C.leaky_relu(x, negative_slope), inplace)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def prelu(input, weight):
    if weight.dim() != 1 and weight.numel() != 1:
        raise RuntimeError("prelu: weight must be 1-D (num_parameters,), got shape %s"
                           % list(weight.shape))
    n = weight.numel()
    w = weight.reshape(-1)
    if n != 1:
        ch = 1 if input.dim() >= 2 else 0
        if input.dim() == 0 or input.shape[ch] != n:
            raise RuntimeError("prelu: the number of weights (%d) does not match the number of "
                               "channels of the input (shape %s)" % (n, list(input.shape)))
        shape = [1] * input.dim()
        shape[ch] = n
        w = w.reshape(shape)
    return _C.where(input > 0, input, w * input)


def elu(input, alpha=1.0, inplace=False):
    return _apply(input, lambda x: _C.where(x > 0, x, _C.expm1(_C.clamp_max(x, 0)) * alpha),
                  inplace)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def selu(input, inplace=False):
    return _apply(input, lambda x: _C.where(
        x > 0, x, _C.expm1(_C.clamp_max(x, 0)) * _SELU_ALPHA) * _SELU_SCALE, inplace)


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides the input)")
    return _apply(input, lambda x: _C.where(
        x > 0, x, _C.expm1(_C.clamp_max(x, 0) / alpha) * alpha), inplace)


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def gelu(input, approximate="none"):
    return _C.gelu(input, approximate=approximate)


def silu(input, inplace=False):
    return _C.silu_(input) if inplace else _C.silu(input)


def mish(input, inplace=False):
    return _apply(input, lambda x: x * _C.tanh(_C.softplus(x)), inplace)


def sigmoid(input):
    return _C.sigmoid(input)


def tanh(input):
    return _C.tanh(input)


def hardsigmoid(input, inplace=False):
    return _apply(input, lambda x: _C.clamp(x / 6.0 + 0.5, 0.0, 1.0), inplace)


def hardswish(input, inplace=False):
    return _apply(input, lambda x: x * _C.clamp(x / 6.0 + 0.5, 0.0, 1.0), inplace)


def softplus(input, beta=1.0, threshold=20.0):
    return _C.softplus(input, beta, threshold)


def softsign(input):
    return input / (_C.abs(input) + 1)


def tanhshrink(input):
    return input - _C.tanh(input)


def logsigmoid(input):
    # log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for both signs
    return _C.clamp_max(input, 0) - _C.log1p(_C.exp(-_C.abs(input)))


def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu: does not support scalars because halving size must be even")
    d = dim + input.dim() if dim < 0 else dim
    if not 0 <= d < input.dim():
        raise IndexError("glu: dimension %d out of range for a %d-D input" % (dim, input.dim()))
    n = input.shape[d]
    if n % 2:
        raise RuntimeError("glu: Halving dimension must be even, but dimension %d is size %d"
                           % (d, n))
    a, b = _C.chunk(input, 2, d)
    return a * _C.sigmoid(b)


def threshold(input, threshold, value, inplace=False):
    return _apply(input, lambda x: _C.where(x > threshold, x, value), inplace)


def threshold_(input, threshold_value, value):
    return threshold(input, threshold_value, value, True)


def _check_lambd(op, lambd):
    if not lambd >= 0:
        raise RuntimeError("%s: lambda must be greater or equal to 0, but found to be %s"
                           % (op, lambd))


def softshrink(input, lambd=0.5):
    _check_lambd("softshrink", lambd)
    zero = input * 0
    return _C.where(input > lambd, input - lambd, _C.where(input < -lambd, input + lambd, zero))


def hardshrink(input, lambd=0.5):
    _check_lambd("hardshrink", lambd)
    return _C.where(_C.abs(input) > lambd, input, input * 0)
