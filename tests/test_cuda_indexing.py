"""CUDA indexing kernels against the CPU ones (skipped without a usable GPU): gather, scatter /
scatter_add (duplicates resolve like the CPU, bitwise), advanced indexing and index_put_ with
and without accumulate (duplicate indices), masked_fill, nonzero, every dtype, non-contiguous
and zero-size operands.

ops/indexing.cpp still reads index tensors on the host (range checks, the advanced-index
offsets); the tests that go through those paths only run against the stand-in backend until
that op code moves the reads to CPU copies (RANVIER_CUDA_LIBRARY names the stand-in)."""
import os

import numpy as np
import pytest

import ranvier
from helpers import NP_DTYPES, from_np, rand_np, host_np as host, noncontiguous as nc

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")
host_index_reads = pytest.mark.skipif(
    "fake" not in os.environ.get("RANVIER_CUDA_LIBRARY", ""),
    reason="ops/indexing.cpp reads CUDA index tensors on the host")

ALL_DTYPES = [ranvier.float32, ranvier.float64, ranvier.float16, ranvier.bfloat16,
              ranvier.int64, ranvier.int32, ranvier.uint8, ranvier.bool]


def make(shape, dtype, seed=0):
    a = rand_np(shape, NP_DTYPES.get(dtype, np.float32), rng=np.random.default_rng(seed))
    return from_np(a).to(dtype)


def same(fn, *tensors):
    exp = fn(*tensors)
    got = fn(*[t.cuda() if isinstance(t, ranvier.Tensor) else t for t in tensors])
    assert got.device.type == "cuda" and got.dtype == exp.dtype
    assert tuple(got.shape) == tuple(exp.shape)
    np.testing.assert_array_equal(host(got), host(exp))


def idx(shape, high, seed=1):
    return from_np(np.random.default_rng(seed).integers(0, high, size=shape).astype(np.int64))


@host_index_reads
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_gather_scatter(dtype):
    x = make((5, 7), dtype)
    for dim in (0, 1):
        i = idx((4, 6), x.shape[dim], seed=dim)
        same(lambda t, ii: ranvier.gather(t, dim, ii), x, i)
        same(lambda t, ii: ranvier.gather(nc(t), dim, ii), x, i)
        src = make((4, 6), dtype, seed=3)
        same(lambda t, ii, s: t.clone().scatter_(dim, ii, s), x, i, src)
        same(lambda t, ii: t.clone().scatter_(dim, ii, 2), x, i)
        if dtype != ranvier.bool:
            same(lambda t, ii, s: t.clone().scatter_add_(dim, ii, s), x, i, src)
    same(lambda t, ii: ranvier.gather(t, 1, ii), x, from_np(np.zeros((5, 0), np.int64)))


@host_index_reads
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_advanced_index_and_put(dtype):
    x = make((6, 5, 4), dtype)
    i = from_np(np.array([0, 2, 2, 5, 1, 2], np.int64))
    j = from_np(np.array([4, 4, 0, 1, 4, 4], np.int64))
    same(lambda t, a: t[a], x, i)
    same(lambda t, a, b: t[a, b], x, i, j)
    same(lambda t, b: t[:, b], x, j)
    same(lambda t, a, b: t[a, :, b % 4], x, i, j)
    v = make((6, 4), dtype, seed=2)
    for accumulate in (False, True):
        if dtype == ranvier.bool and accumulate:
            continue
        same(lambda t, a, b, vv: t.clone().index_put_((a, b), vv, accumulate=accumulate), x, i, j, v)
        same(lambda t, a, vv: t.clone().index_put_((a,), vv, accumulate=accumulate), x, i,
             make((6, 5, 4), dtype, 3))
    # many rows onto few targets (the kernel sorts the rows by target first)
    big = make((50, 3), dtype, seed=6)
    rows = idx((700,), 50, seed=7)
    vals = make((700, 3), dtype, seed=8)
    for accumulate in (False, True):
        if dtype == ranvier.bool and accumulate:
            continue
        same(lambda t, r, vv: t.clone().index_put_((r,), vv, accumulate=accumulate), big, rows, vals)
    m = host(x)[..., 0] > 0.5 if dtype != ranvier.bool else host(x)[..., 0]
    same(lambda t, mm: t[mm], x, from_np(m))


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_masked_fill_and_nonzero(dtype):
    x = make((7, 9), dtype)
    mask = make((7, 9), ranvier.bool, seed=4)
    same(lambda t, m: t.masked_fill(m, 1), x, mask)
    same(lambda t, m: nc(t).masked_fill(m, 0), x, mask)
    same(lambda t, m: t.masked_fill(m[:1], 1), x, mask)  # broadcast mask
    same(lambda t: ranvier.nonzero(t), x)
    same(lambda t: ranvier.nonzero(nc(t)), x)
    same(lambda t: ranvier.nonzero(t), make((0, 3), dtype))
    same(lambda t: ranvier.nonzero(t), make((100003,), dtype, seed=5))


def test_nonzero_special_values():
    a = np.array([0.0, -0.0, np.nan, 1e-30, -2.0, 0.0], dtype=np.float32)
    for dtype in (ranvier.float32, ranvier.float16, ranvier.bfloat16):
        same(lambda t: ranvier.nonzero(t), from_np(a).to(dtype))
