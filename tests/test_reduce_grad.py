"""Gradients of the reductions and scans: float64 finite-difference gradcheck for every
differentiable op, gradgradcheck for sum, mean, var, std, logsumexp, norm, prod, cumsum and
cumprod, and the exact PyTorch conventions for ties (amax shares evenly, max(dim) picks the
index) and zeros (prod, cumprod)."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier as rv
from helpers import assert_close, gradcheck, rand_np

RNG = np.random.default_rng(7)


def _flat(out):
    return [o for o in (out if isinstance(out, tuple) else (out,)) if o.is_floating_point()]


def gradgradcheck(fn, *arrays):
    """Finite-difference check of the first derivative (taken with create_graph=True) with
    respect to the inputs and to random output gradients."""
    inputs = [rv.from_numpy(np.array(a, dtype=np.float64)).requires_grad_() for a in arrays]
    gos = [rv.from_numpy(RNG.standard_normal(tuple(o.shape))).requires_grad_()
           for o in _flat(fn(*inputs))]
    n = len(inputs)

    def first_derivative(*args):
        with rv.enable_grad():
            grads = rv.autograd.grad(_flat(fn(*args[:n])), list(args[:n]), list(args[n:]),
                                     create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return rv.autograd.gradcheck(first_derivative, tuple(inputs + gos), eps=1e-6, atol=1e-4,
                                 rtol=1e-3)


def distinct(shape):
    """Values with no ties (so max/min are differentiable there)."""
    n = int(np.prod(shape))
    return (RNG.permutation(n).astype(np.float64) * 0.37 - n * 0.1).reshape(shape)


DIMS = [None, 0, -1, (0, 2), (1,)]


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_grad(dims, keepdim):
    a = rand_np((2, 3, 2), np.float64)
    assert gradcheck(lambda x: x.sum(dims, keepdim), a)
    assert gradcheck(lambda x: x.mean(dims, keepdim), a)
    assert gradgradcheck(lambda x: (x * x).sum(dims, keepdim), a)
    assert gradgradcheck(lambda x: (x * x).mean(dims, keepdim), a)


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_var_std_grad(dims, keepdim):
    a = rand_np((2, 3, 2), np.float64)
    assert gradcheck(lambda x: x.var(dims, keepdim=keepdim), a)
    assert gradcheck(lambda x: x.std(dims, keepdim=keepdim, correction=0), a)
    assert gradcheck(lambda x: rv.var_mean(x, dims, keepdim=keepdim), a)
    assert gradcheck(lambda x: rv.std_mean(x, dims, keepdim=keepdim), a)
    assert gradgradcheck(lambda x: x.var(dims, keepdim=keepdim), a)
    assert gradgradcheck(lambda x: x.std(dims, keepdim=keepdim), a)


@pytest.mark.parametrize("dims", [0, -1, (0, 2), (1,)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_grad(dims, keepdim):
    a = rand_np((2, 3, 2), np.float64, low=-5, high=5)
    assert gradcheck(lambda x: x.logsumexp(dims, keepdim), a)
    assert gradgradcheck(lambda x: rv.logsumexp(x, dims, keepdim), a)


@pytest.mark.parametrize("p", [2, 1, 3, 1.5, math.inf, -math.inf, "fro"])
@pytest.mark.parametrize("dims", [None, 1, (0, 2)])
def test_norm_grad(p, dims):
    a = distinct((2, 3, 2)) + 0.05  # no zeros, no ties
    assert gradcheck(lambda x: x.norm(p, dims), a)
    assert gradcheck(lambda x: x.norm(p, dims, keepdim=True), a)
    if p in (2, 3, "fro"):
        assert gradgradcheck(lambda x: x.norm(p, dims), a)


def test_norm_grad_at_zero_is_zero():
    x = rv.zeros(3, dtype=rv.float64, requires_grad=True)
    x.norm().backward()
    assert_close(x.grad, np.zeros(3))
    y = rv.zeros(2, 2, dtype=rv.float64, requires_grad=True)
    y.norm(3, 1).sum().backward()
    assert_close(y.grad, np.zeros((2, 2)))


@pytest.mark.parametrize("dims", DIMS)
def test_amax_amin_grad(dims):
    a = distinct((2, 3, 2))
    d = () if dims is None else dims
    assert gradcheck(lambda x: x.amax(d), a)
    assert gradcheck(lambda x: x.amin(d, True), a)
    assert gradgradcheck(lambda x: x.amax(d) * 2.0, a)


def test_max_min_all_grad():
    a = distinct((3, 4))
    assert gradcheck(lambda x: x.max(), a)
    assert gradcheck(lambda x: rv.min(x), a)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_grad(dim, keepdim):
    a = distinct((3, 4, 2))
    assert gradcheck(lambda x: x.max(dim, keepdim).values, a)
    assert gradcheck(lambda x: x.min(dim, keepdim)[0], a)
    assert gradgradcheck(lambda x: x.max(dim, keepdim).values * 3.0, a)


def test_ties_share_evenly_for_amax_and_go_to_index_for_max_dim():
    x = rv.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.amax(1).sum().backward()
    assert_close(x.grad, np.array([[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], dtype=np.float32))
    x.grad = None
    x.max().backward()
    assert_close(x.grad, np.array([[0, 0.5, 0.5], [0, 0, 0]], dtype=np.float32))
    x.grad = None
    x.max(1).values.sum().backward()
    assert_close(x.grad, np.array([[0, 1, 0], [1, 0, 0]], dtype=np.float32))


@pytest.mark.parametrize("dims", [None, 0, (0, 2), -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_prod_grad(dims, keepdim):
    a = rand_np((2, 3, 2), np.float64, low=0.5, high=1.5)
    assert gradcheck(lambda x: x.prod(dims, keepdim), a)
    assert gradgradcheck(lambda x: x.prod(dims, keepdim), a)


@pytest.mark.parametrize("zeros", [[(0, 1, 0)], [(0, 1, 0), (1, 1, 0)], [(0, 0, 0), (0, 1, 0)]])
@pytest.mark.parametrize("dims", [None, 1, (0, 2)])
def test_prod_grad_with_zeros(zeros, dims):
    a = rand_np((2, 3, 2), np.float64, low=0.5, high=1.5)
    for z in zeros:
        a[z] = 0.0
    assert gradcheck(lambda x: x.prod(dims), a)


def test_prod_double_backward_with_zeros_raises():
    x = rv.tensor([1.0, 0.0, 2.0], dtype=rv.float64, requires_grad=True)
    (g,) = rv.autograd.grad([x.prod()], [x], create_graph=True)
    assert_close(g, np.array([0.0, 2.0, 0.0]))
    with pytest.raises(NotImplementedError, match="prod: double backward"):
        g.sum().backward()


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_grad(dim):
    a = rand_np((3, 4, 2), np.float64)
    assert gradcheck(lambda x: x.cumsum(dim), a)
    assert gradgradcheck(lambda x: (x * x).cumsum(dim), a)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod_grad(dim):
    a = rand_np((3, 4, 2), np.float64, low=0.5, high=1.5)
    assert gradcheck(lambda x: x.cumprod(dim), a)
    assert gradgradcheck(lambda x: x.cumprod(dim), a)


@pytest.mark.parametrize("zeros", [[(0, 1, 0)], [(0, 1, 0), (0, 2, 0)], [(2, 3, 1), (0, 0, 1)]])
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_cumprod_grad_with_zeros(zeros, dim):
    a = rand_np((3, 4, 2), np.float64, low=0.5, high=1.5)
    for z in zeros:
        a[z] = 0.0
    assert gradcheck(lambda x: x.cumprod(dim), a)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_sum_grad_noncontiguous(shape, data):
    a = rand_np(tuple(shape), np.float64)
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    assert gradcheck(lambda x: x.transpose(0, -1).sum(d), a)
    assert gradcheck(lambda x: x.transpose(0, -1).cumsum(d), a)


def test_grad_dtypes_follow_input():
    for dt in (rv.float32, rv.float16, rv.bfloat16):
        x = rv.ones(2, 3, dtype=dt, requires_grad=True)
        (x.sum() + x.amax() + x.mean(0).sum() + x.cumsum(1).sum() + x.prod()).backward()
        assert x.grad.dtype == dt
        np.testing.assert_allclose(x.grad.float().numpy(),
                                   np.full((2, 3), 1 + 1 / 6 + 0.5 + np.array([3, 2, 1]) + 1),
                                   rtol=1e-2)
    x = rv.ones(3, requires_grad=True)
    x.sum(dtype=rv.float64).backward()
    assert x.grad.dtype == rv.float32


def test_cumprod_double_backward_with_zeros_raises():
    x = rv.tensor([2.0, 0.0, 3.0], dtype=rv.float64, requires_grad=True)
    (g,) = rv.autograd.grad([x.cumprod(0).sum()], [x], create_graph=True)
    assert_close(g, np.array([1.0, 2.0 + 6.0, 0.0]))  # d/dx of 2 + 0 + 0 and friends
    with pytest.raises(NotImplementedError, match="cumprod: double backward"):
        g.sum().backward()
