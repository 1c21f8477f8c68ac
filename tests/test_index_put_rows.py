"""index_add_ / index_put_ with rows of contiguous elements (an embedding's gradient): on the
CPU the rows run in index order, split among the threads by columns, so duplicate indices
accumulate (or overwrite) in the same order for any thread count. Against NumPy."""
import numpy as np
import pytest

import ranvier as rv
import ranvier.nn.functional as F


def _for_threads(fn):
    old = rv.get_num_threads()
    out = []
    try:
        for n in (1, 2, 3):
            rv.set_num_threads(n)
            out.append(fn())
    finally:
        rv.set_num_threads(old)
    assert len(out) == 3
    return out


@pytest.mark.parametrize("width", [1, 7, 130, 300])
def test_index_add_with_duplicates(width):
    rng = np.random.default_rng(width)
    base = rng.standard_normal((50, width)).astype(np.float32)
    idx = rng.integers(0, 50, 400)
    src = rng.standard_normal((400, width)).astype(np.float32)
    want = base.astype(np.float64)
    np.add.at(want, idx, src.astype(np.float64))

    def run():
        t = rv.tensor(base)
        t.index_add_(0, rv.tensor(idx), rv.tensor(src))
        return t.numpy()
    results = _for_threads(run)
    for r in results:
        np.testing.assert_allclose(r, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(r, results[0])


def test_index_put_overwrite_keeps_the_last_duplicate():
    rng = np.random.default_rng(1)
    idx = np.array([3, 1, 3, 0, 1, 3] * 20)
    vals = rng.standard_normal((len(idx), 400)).astype(np.float32)
    want = np.zeros((5, 400), np.float32)
    for i, k in enumerate(idx):
        want[k] = vals[i]

    def run():
        t = rv.zeros(5, 400)
        t.index_put_((rv.tensor(idx),), rv.tensor(vals))
        return t.numpy()
    for r in _for_threads(run):
        np.testing.assert_array_equal(r, want)


def test_embedding_gradient_of_wide_rows():
    rng = np.random.default_rng(2)
    weight = rng.standard_normal((100, 256)).astype(np.float32)
    idx = rng.integers(0, 100, (32, 40))
    g = rng.standard_normal((32, 40, 256)).astype(np.float32)
    want = np.zeros((100, 256))
    np.add.at(want, idx.reshape(-1), g.reshape(-1, 256).astype(np.float64))

    def run():
        w = rv.tensor(weight, requires_grad=True)
        out = F.embedding(rv.tensor(idx), w)
        np.testing.assert_array_equal(out.detach().numpy(), weight[idx])
        out.backward(rv.tensor(g))
        return w.grad.numpy()
    results = _for_threads(run)
    for r in results:
        np.testing.assert_allclose(r, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(r, results[0])


def test_values_overlapping_the_target_are_read_before_any_write():
    # index_put_ reads its values in place unless their memory overlaps the target's: here row
    # 5 is written (i = 0) before it is read as a value (i = 1)
    a = np.arange(24, dtype=np.float32).reshape(8, 3)
    rows = [5, 0, 6, 1]
    want = a.copy()
    np.add.at(want, rows, a[4:8].copy())  # the values as they were before the call
    c = rv.from_numpy(a.copy())
    c.index_put_((rv.from_numpy(np.array(rows)),), c[4:8], accumulate=True)
    np.testing.assert_array_equal(c.numpy(), want)
    # two tensors over one NumPy array: different storages, the same memory
    b = a.copy()
    target, values = rv.from_numpy(b), rv.from_numpy(b[4:8])
    target.index_put_((rv.from_numpy(np.array(rows)),), values, accumulate=True)
    np.testing.assert_array_equal(b, want)
    # the target itself as the values, through index_add_
    t = rv.from_numpy(a.copy())
    idx = np.array([1, 1, 2, 0, 7, 3, 3, 5])
    want2 = a.copy()
    np.add.at(want2, idx, a)
    t.index_add_(0, rv.from_numpy(idx), t)
    np.testing.assert_array_equal(t.numpy(), want2)
