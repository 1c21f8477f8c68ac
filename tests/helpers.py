"""Helpers for checking ranvier against NumPy and finite differences."""
import os
import subprocess
import sys

import numpy as np
from hypothesis import strategies as st

import ranvier

NP_DTYPES = {
    ranvier.float32: np.float32, ranvier.float64: np.float64, ranvier.float16: np.float16,
    ranvier.int64: np.int64, ranvier.int32: np.int32, ranvier.uint8: np.uint8,
    ranvier.bool: np.bool_,
}


def to_np(t):
    """A NumPy copy of a ranvier tensor (bfloat16 goes through float32)."""
    t = t.detach().cpu()
    if t.dtype == ranvier.bfloat16:
        t = t.float()
    return np.array(t.numpy(), copy=True)


def from_np(a, device="cpu", requires_grad=False):
    t = ranvier.from_numpy(np.array(a, order="C", copy=True)).clone()  # keeps 0-d arrays 0-d
    if device != "cpu":
        t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, check_dtype=True):
    """actual: a ranvier tensor; expected: a NumPy array (or scalar)."""
    exp = np.asarray(expected)
    act = to_np(actual)
    assert tuple(act.shape) == tuple(exp.shape), f"shape {act.shape} != expected {exp.shape}"
    if check_dtype:
        assert act.dtype == exp.dtype, f"dtype {act.dtype} != expected {exp.dtype}"
    if exp.dtype == np.bool_ or np.issubdtype(exp.dtype, np.integer):
        np.testing.assert_array_equal(act, exp)
    else:
        np.testing.assert_allclose(act, exp, rtol=rtol, atol=atol, equal_nan=True)


def rand_np(shape, dtype=np.float32, rng=None, low=-2.0, high=2.0):
    rng = rng or np.random.default_rng(0)
    if np.issubdtype(dtype, np.floating):
        return rng.uniform(low, high, size=shape).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    return rng.integers(int(low) if low < 0 and np.issubdtype(dtype, np.signedinteger) else 0,
                        max(int(high), 1) + 5, size=shape).astype(dtype)


def host_np(t):
    """A NumPy copy of t's values from any device (bfloat16 as float32: NumPy has no bfloat16)."""
    t = t.detach().cpu()
    if t.dtype == ranvier.bfloat16:
        t = t.float()
    return np.array(t.numpy(), copy=True)


def noncontiguous(t):
    """A non-contiguous tensor with the same values as t (a strided view of a bigger buffer)."""
    if t.dim() == 0:
        return t
    big = ranvier.zeros(*t.shape[:-1], t.shape[-1] * 2, dtype=t.dtype, device=t.device)
    view = big.as_strided(tuple(t.shape), tuple(list(big.stride()[:-1]) + [2]), 0)
    with ranvier.no_grad():
        view.copy_(t)
    return view


def gradcheck(fn, *arrays):
    """float64 finite-difference check of fn over NumPy inputs (all differentiated)."""
    inputs = [from_np(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    return ranvier.autograd.gradcheck(fn, tuple(inputs), eps=1e-6, atol=1e-5, rtol=1e-3)


def gradgradcheck(fn, *arrays):
    inputs = [from_np(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    return ranvier.autograd.gradgradcheck(fn, tuple(inputs), eps=1e-6, atol=1e-4, rtol=1e-3)


# hypothesis strategies
def shapes(min_dims=0, max_dims=4, min_side=0, max_side=5):
    return st.lists(st.integers(min_side, max_side), min_size=min_dims,
                    max_size=max_dims).map(tuple)


def broadcastable_pair(max_dims=4, max_side=4):
    """Two shapes that broadcast together."""
    @st.composite
    def _pair(draw):
        base = draw(shapes(0, max_dims, 1, max_side))
        def variant():
            n = draw(st.integers(0, len(base)))
            sub = list(base[len(base) - n:])
            for i in range(len(sub)):
                if draw(st.booleans()):
                    sub[i] = 1
            return tuple(sub)
        return variant(), variant()
    return _pair()


def run_at_capability(level, code, *args):
    """Runs `python -c code *args` in a subprocess whose CPU kernels use the SIMD level `level`
    (RANVIER_CPU_CAPABILITY, read once at load); checks that it succeeded and returns its
    standard output's lines."""
    env = {**os.environ, "RANVIER_CPU_CAPABILITY": level}
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip().splitlines()


def run_checks_at_capability(level, module):
    """Runs `module.run_checks()` (a test module of this folder, which prints the SIMD level it
    ran at last) in a subprocess at `level`, and checks that it passed at that level."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = f"import sys; sys.path.insert(0, {here!r}); import {module} as t; t.run_checks()"
    assert run_at_capability(level, code)[-1] == level.upper()


def np_max_pool_2x2(x):
    """max_pool2d(x, 2) of an [n, c, h, w] array and its flat indices: the first maximum in
    row-major window order, a NaN beats numbers and the last NaN beats earlier ones."""
    n, c, h, w = x.shape
    oh, ow = h // 2, w // 2
    out = np.empty((n, c, oh, ow), x.dtype)
    idx = np.empty((n, c, oh, ow), np.int64)
    for a in range(n):
        for b in range(c):
            for i in range(oh):
                for j in range(ow):
                    best, bi = None, -1
                    for dy in (0, 1):
                        for dx in (0, 1):
                            y, xx = 2 * i + dy, 2 * j + dx
                            v = x[a, b, y, xx]
                            if bi < 0 or v > best or np.isnan(v):
                                best, bi = v, y * w + xx
                    out[a, b, i, j], idx[a, b, i, j] = best, bi
    return out, idx
