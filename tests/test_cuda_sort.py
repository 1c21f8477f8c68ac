"""CUDA sort kernels against the CPU ones (skipped without a usable GPU): sort / argsort /
topk along every dim, ascending and descending, every dtype, with ties (stable: equal values
keep their input order), NaN (largest), -0.0 / +0.0, non-contiguous and zero-size inputs, and
unique (sorted values, inverse, counts)."""
import numpy as np
import pytest

import ranvier
from helpers import NP_DTYPES, from_np, host_np as host, noncontiguous as nc

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")

ALL_DTYPES = [ranvier.float32, ranvier.float64, ranvier.float16, ranvier.bfloat16,
              ranvier.int64, ranvier.int32, ranvier.uint8, ranvier.bool]


def data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(-3, 4, size=shape).astype(np.float64)  # many ties
    if dtype.is_floating_point:
        flat = a.reshape(-1)
        flat[::7] = np.nan
        flat[3::11] = -0.0
        flat[5::13] = np.inf
    elif dtype in (ranvier.uint8, ranvier.bool):
        a = np.abs(a)
    return from_np(a.astype(NP_DTYPES.get(dtype, np.float32))).to(dtype)


def same(fn, t):
    exp = fn(t)
    got = fn(t.cuda())
    exp = exp if isinstance(exp, tuple) else (exp,)
    got = got if isinstance(got, tuple) else (got,)
    for g, e in zip(got, exp):
        if e is None:
            continue
        assert g.device.type == "cuda" and g.dtype == e.dtype
        np.testing.assert_array_equal(host(g), host(e))


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_sort_argsort_topk(dtype):
    t = data((5, 37, 3), dtype)
    for dim in (0, 1, 2, -1):
        for desc in (False, True):
            same(lambda x: ranvier.sort(x, dim, descending=desc, stable=True), t)
            same(lambda x: ranvier.argsort(x, dim, descending=desc), t)
            same(lambda x: ranvier.sort(nc(x), dim, descending=desc), t)
        same(lambda x: ranvier.topk(x, 2, dim), t)
        same(lambda x: ranvier.topk(x, 1, dim, largest=False), t)
    same(lambda x: ranvier.sort(x, 0), data((0, 4), dtype))
    same(lambda x: ranvier.sort(x, -1), data((3, 5000), dtype, seed=1))


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_unique(dtype):
    t = data((9, 11), dtype, seed=2)
    same(lambda x: ranvier.unique(x, return_inverse=True, return_counts=True), t)
