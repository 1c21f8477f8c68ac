"""Lazy layers: parameters materialise on the first forward with the usual default
initialisation, the module turns into the plain layer, state_dict loading materialises, and the
results match the plain layer with the same parameters (NumPy reference)."""
import numpy as np
import pytest

import ranvier
import ranvier.nn as nn
from ranvier.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy
from helpers import assert_close, from_np, rand_np, to_np


def test_lazy_linear():
    ranvier.manual_seed(0)
    m = nn.LazyLinear(4)
    assert isinstance(m.weight, UninitializedParameter) and is_lazy(m.bias)
    assert m.has_uninitialized_params()
    x = rand_np((3, 5), np.float32)
    y = m(from_np(x))
    assert type(m) is nn.Linear
    assert type(m.weight) is nn.Parameter and m.weight.requires_grad
    assert tuple(m.weight.shape) == (4, 5) and tuple(m.bias.shape) == (4,)
    assert m.in_features == 5
    bound = 1 / np.sqrt(5)
    w, b = to_np(m.weight), to_np(m.bias)
    assert np.all(np.abs(w) <= bound) and np.all(np.abs(b) <= bound) and np.std(w) > 0
    assert_close(y, x @ w.T + b, rtol=1e-5, atol=1e-6)
    assert list(m.state_dict().keys()) == ["weight", "bias"]
    y.sum().backward()
    assert tuple(m.weight.grad.shape) == (4, 5)
    m2 = nn.LazyLinear(2, bias=False)
    m2(ranvier.zeros(1, 3))
    assert m2.bias is None and tuple(m2.weight.shape) == (2, 3)


def test_lazy_linear_dtype():
    m = nn.LazyLinear(2, dtype=ranvier.float64)
    m(ranvier.zeros(1, 3, dtype=ranvier.float64))
    assert m.weight.dtype == ranvier.float64


@pytest.mark.parametrize("cls,base,n,transposed", [
    (nn.LazyConv1d, nn.Conv1d, 1, False), (nn.LazyConv2d, nn.Conv2d, 2, False),
    (nn.LazyConvTranspose1d, nn.ConvTranspose1d, 1, True),
    (nn.LazyConvTranspose2d, nn.ConvTranspose2d, 2, True)])
def test_lazy_conv(cls, base, n, transposed):
    ranvier.manual_seed(1)
    m = cls(6, 3, stride=1, padding=1, groups=2)
    assert is_lazy(m.weight)
    x = from_np(rand_np((2, 4) + (5,) * n, np.float32))
    y = m(x)
    assert type(m) is base
    assert m.in_channels == 4
    k = (3,) * n
    shape = (4, 3) + k if transposed else (6, 2) + k
    assert tuple(m.weight.shape) == shape
    fan_in = m.weight.shape[1] * 3 ** n
    assert np.all(np.abs(to_np(m.weight)) <= 1 / np.sqrt(fan_in) + 1e-7)
    ref = base(4, 6, 3, padding=1, groups=2)
    ref.load_state_dict(m.state_dict())
    assert_close(y, to_np(ref(x)), rtol=1e-6, atol=1e-6)
    # unbatched input
    m = cls(2, 1)
    m(ranvier.zeros((3,) + (4,) * n))
    assert m.in_channels == 3


def test_lazy_conv_errors():
    m = nn.LazyConv2d(4, 3, groups=2)
    with pytest.raises(ValueError, match=r"LazyConv2d: in_channels \(3, read from the input\) "
                                         r"must be divisible by groups \(2\)"):
        m(ranvier.zeros(1, 3, 5, 5))
    with pytest.raises(ValueError, match="LazyConv2d: expected a 3D"):
        nn.LazyConv2d(4, 3)(ranvier.zeros(5, 5))


@pytest.mark.parametrize("cls,base,shape", [(nn.LazyBatchNorm1d, nn.BatchNorm1d, (4, 3)),
                                            (nn.LazyBatchNorm1d, nn.BatchNorm1d, (4, 3, 5)),
                                            (nn.LazyBatchNorm2d, nn.BatchNorm2d, (2, 3, 2, 2)),
                                            (nn.LazyBatchNorm3d, nn.BatchNorm3d, (2, 3, 2, 1, 2))])
def test_lazy_batchnorm(cls, base, shape):
    m = cls()
    assert isinstance(m.running_mean, UninitializedBuffer) and is_lazy(m.weight)
    x = rand_np(shape, np.float32)
    y = m(from_np(x))
    assert type(m) is base and m.num_features == 3
    x = x.astype(np.float64)
    axes = tuple(i for i in range(len(shape)) if i != 1)
    ref = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    assert_close(y, ref.astype(np.float32), rtol=1e-4, atol=1e-5)
    assert list(m.state_dict().keys()) == ["weight", "bias", "running_mean", "running_var",
                                           "num_batches_tracked"]
    assert_close(m.running_mean, (0.1 * x.mean(axes)).astype(np.float32), rtol=1e-5, atol=1e-6)
    assert int(m.num_batches_tracked) == 1
    m2 = cls(affine=False, track_running_stats=False)
    m2(from_np(x.astype(np.float32)))
    assert m2.weight is None and m2.running_mean is None


def test_lazy_load_state_dict_materialises():
    src = nn.Linear(3, 2)
    m = nn.LazyLinear(2)
    m.load_state_dict(src.state_dict())
    assert type(m) is nn.Linear
    np.testing.assert_array_equal(to_np(m.weight), to_np(src.weight))
    np.testing.assert_array_equal(to_np(m.bias), to_np(src.bias))
    bn = nn.BatchNorm2d(3)
    bn.running_mean.fill_(2.0)
    lbn = nn.LazyBatchNorm2d()
    lbn.load_state_dict(bn.state_dict())
    assert type(lbn) is nn.BatchNorm2d
    np.testing.assert_array_equal(to_np(lbn.running_mean), np.full(3, 2.0, np.float32))
    # a lazy checkpoint into a lazy module keeps it lazy; a later forward initialises it
    a, b = nn.LazyLinear(2), nn.LazyLinear(2)
    b.load_state_dict(a.state_dict())
    assert is_lazy(b.weight)
    b(ranvier.zeros(1, 4))
    assert tuple(b.weight.shape) == (2, 4)
    # size mismatch with the layer's fixed out_features still reports
    with pytest.raises(RuntimeError, match=r"size mismatch for weight.*\[2, 3\].*"
                                           r"out_features=5"):
        nn.LazyLinear(5).load_state_dict(src.state_dict())
    assert m.in_features == 3
    c = nn.LazyConv2d(3, 2)
    c.load_state_dict(nn.Conv2d(4, 3, 2).state_dict())
    assert type(c) is nn.Conv2d and c.in_channels == 4
    assert lbn.num_features == 3


def test_lazy_in_sequential():
    net = nn.Sequential(nn.LazyConv2d(4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    y = net(ranvier.zeros(2, 3, 5, 5))
    assert tuple(y.shape) == (2, 2)
    assert tuple(net[3].weight.shape) == (2, 4 * 3 * 3)
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "3.weight",
                                                      "3.bias"]


def test_uninitialized_parameter_errors():
    from ranvier.nn.utils import spectral_norm, weight_norm
    with pytest.raises(ValueError, match="uninitialized parameters"):
        weight_norm(nn.LazyLinear(2))
    with pytest.raises(ValueError, match="uninitialized parameters"):
        spectral_norm(nn.LazyLinear(2))
    import pickle
    with pytest.raises(ValueError, match="uninitialized parameter"):
        pickle.dumps(nn.LazyLinear(2).weight)
    m = nn.LazyLinear(2)
    with pytest.raises(ValueError, match=r"uninitialized parameter in Tensor.add_.*LazyModule"):
        m.weight.add_(1.0)
    with pytest.raises(ValueError, match=r"uninitialized parameter in Tensor.numpy"):
        m.weight.numpy()
    with pytest.raises(ValueError, match=r"uninitialized parameter in Tensor.uniform_"):
        nn.init.uniform_(m.weight)
    m.double()
    m(ranvier.zeros(1, 3, dtype=ranvier.float64))
    assert m.weight.dtype == ranvier.float64
    with ranvier.no_grad():
        m.weight.add_(1.0)  # a materialised parameter is an ordinary one


def test_lazy_batchnorm_dtype_conversion_before_init():
    m = nn.LazyBatchNorm1d().double()
    assert isinstance(m.running_mean, UninitializedBuffer)
    x = rand_np((4, 3), np.float64)
    y = m(from_np(x))
    assert m.weight.dtype == ranvier.float64 and m.running_var.dtype == ranvier.float64
    ref = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    assert_close(y, ref, rtol=1e-10, atol=1e-10)


def test_lazy_deepcopy():
    import copy
    m = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    c = copy.deepcopy(m)
    assert is_lazy(c[0].weight) and c[0].weight is not m[0].weight
    assert isinstance(c[1].running_mean, UninitializedBuffer)
    c(ranvier.zeros(2, 4))
    assert tuple(c[0].weight.shape) == (3, 4) and is_lazy(m[0].weight)
