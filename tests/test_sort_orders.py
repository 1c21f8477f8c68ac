"""sort / argsort / topk on the CPU in every path: the radix sort of 32-bit-or-narrower keys
(float32, float16, int32, uint8, bool), the comparison sort (float64, int64), topk's heap
selection (small k) and selection + sort (larger k). Each is checked against a reference that
orders (value, index) pairs with Python's stable sort: NaN above every number, -0 equal to +0,
equal values in index order, ascending or descending."""
import math

import numpy as np
import pytest

import ranvier as rv


def _reference(row, descending):
    def key(i):
        v = float(row[i])
        nan = math.isnan(v)
        if descending:
            return (0 if nan else 1, 0.0 if nan else -v, i)
        return (1 if nan else 0, 0.0 if nan else v, i)
    return sorted(range(len(row)), key=key)


def _lines(dtype, n, rng):
    if dtype in (np.float32, np.float16, np.float64):
        base = rng.integers(-6, 6, (4, n)).astype(np.float64) / 2  # many ties
        base[0, ::7] = np.nan
        base[1, ::5] = -0.0
        base[1, 1::5] = 0.0
        base[2, ::9] = np.inf
        base[2, 4::9] = -np.inf
        base[3] = rng.standard_normal(n)
        return base.astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, (4, n)).astype(np.bool_)
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -50), min(info.max, 50)
    a = rng.integers(lo, hi, (4, n)).astype(dtype)
    m = min(3, n)
    a[0, :m] = [info.min, info.max, 0][:m]
    return a


DTYPES = [np.float32, np.float16, np.float64, np.int32, np.int64, np.uint8, np.bool_]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("n", [1, 9, 300])
def test_sort_matches_stable_reference(dtype, descending, n):
    a = _lines(dtype, n, np.random.default_rng(n))
    t = rv.tensor(a)
    values, indices = t.sort(1, descending=descending)
    for r in range(a.shape[0]):
        ref = _reference(a[r], descending)
        np.testing.assert_array_equal(indices.numpy()[r], ref)
        np.testing.assert_array_equal(values.numpy()[r], a[r][ref])
    np.testing.assert_array_equal(t.argsort(1, descending=descending).numpy(), indices.numpy())
    # the same along dim 0 (strided lines)
    np.testing.assert_array_equal(rv.tensor(a.T.copy()).sort(0, descending=descending)[1]
                                  .numpy(), indices.numpy().T)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 3, 40, 299, 300])
def test_topk_matches_stable_reference(dtype, k):
    a = _lines(dtype, 300, np.random.default_rng(k))
    t = rv.tensor(a)
    for largest in (True, False):
        values, indices = t.topk(k, 1, largest=largest)
        for r in range(a.shape[0]):
            ref = _reference(a[r], largest)[:k]
            np.testing.assert_array_equal(indices.numpy()[r], ref)
            np.testing.assert_array_equal(values.numpy()[r], a[r][ref])


def test_same_result_for_any_thread_count():
    a = np.random.default_rng(0).standard_normal((64, 500)).astype(np.float32)
    t = rv.tensor(a)
    old = rv.get_num_threads()
    res = []
    try:
        for n in (1, 2, 3):
            rv.set_num_threads(n)
            res.append([t.sort(1)[1].numpy(), t.topk(7, 1)[1].numpy(), t.sort(0)[1].numpy()])
    finally:
        rv.set_num_threads(old)
    for other in res[1:]:
        for x, y in zip(res[0], other):
            np.testing.assert_array_equal(x, y)
