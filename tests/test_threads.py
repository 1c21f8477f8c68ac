"""Threads: set_num_threads/get_num_threads, bitwise-identical results for any thread count
(Note [Deterministic reductions], Note [Thread-invariant BLAS]) and OpenBLAS running
single-threaded on ranvier's OpenMP pool."""
import os

import numpy as np
import pytest

import ranvier as rv
from helpers import from_np


@pytest.fixture
def restore_threads():
    n = rv.get_num_threads()
    yield
    rv.set_num_threads(n)


def test_set_get_num_threads(restore_threads):
    rv.set_num_threads(1)
    assert rv.get_num_threads() == 1
    rv.set_num_threads(2)
    assert rv.get_num_threads() == 2
    with pytest.raises(ValueError, match="set_num_threads: expected a positive number"):
        rv.set_num_threads(0)


def _bits(t):
    return np.ascontiguousarray(t.detach().numpy()).tobytes()


def _run_all(x, y, a, b, bb):
    return [
        x.sum(), x.sum(0), x.sum(1), x.mean(), x.mean(1), x.var(), x.var(0), x.std(1),
        x.norm(), x.norm(3, 0), x.norm(1, 1), x.logsumexp(1), x.amax(), x.argmax(),
        x.cumsum(0), x.cumsum(1), x.max(0).indices, y.sum(), y.prod(), (y > 0).all(),
        a @ b, rv.bmm(bb, bb), b.t() @ a.t(),
    ]


def test_results_do_not_depend_on_thread_count(restore_threads):
    rng = np.random.default_rng(3)
    x = from_np(rng.standard_normal((1500, 700)).astype(np.float32))  # 1M elements
    y = from_np(rng.uniform(0.999, 1.001, 3_000_000))  # one long float64 row
    a = from_np(rng.standard_normal((300, 257)).astype(np.float32))
    b = from_np(rng.standard_normal((257, 190)).astype(np.float32))
    bb = from_np(rng.standard_normal((200, 16, 16)))
    results = {}
    for n in (1, 2, 3):
        rv.set_num_threads(n)
        results[n] = [_bits(r) for r in _run_all(x, y, a, b, bb)]
    assert results[1] == results[2] == results[3]
    # and the values are right
    np.testing.assert_allclose(x.sum(0).numpy(), x.numpy().astype(np.float64).sum(0), rtol=1e-5,
                               atol=1e-4)
    np.testing.assert_allclose(y.prod().item(), np.prod(y.numpy()), rtol=1e-9)


def _products(big32, big64, batch):
    # C cut by rows (m >= n) and by columns (n > m, B row-major and transposed)
    return [big32 @ big32.t()[:, :300], big64 @ big64, big32.t() @ big32[:, :96], batch @ batch,
            big64[:90] @ big64[:, :250], big64[:90] @ big64[:250].t()]


def test_products_left_to_openblas_do_not_depend_on_thread_count(restore_threads):
    # Note [Thread-invariant BLAS]: OpenBLAS's own threaded split gave a 1024^3 product
    # different bits on one, two and three threads; fixed blocks cut by the shape do not.
    # A float32 A of 1100 x 700 is past the panel path's 2 MB; float64 and batches of large
    # matrices always go to OpenBLAS; the transposed A's K of 1100 does on AVX2.
    rng = np.random.default_rng(11)
    big32 = from_np(rng.standard_normal((1100, 700)).astype(np.float32))
    big64 = from_np(rng.standard_normal((300, 300)))
    batch = from_np(rng.standard_normal((2, 200, 200)).astype(np.float32))
    results = {}
    for n in (1, 2, 3):
        rv.set_num_threads(n)
        results[n] = [_bits(r) for r in _products(big32, big64, batch)]
    assert results[1] == results[2] == results[3]
    out = _products(big32, big64, batch)
    b32, b64, bt = big32.numpy().astype(np.float64), big64.numpy(), batch.numpy()
    np.testing.assert_allclose(out[0].numpy(), b32 @ b32.T[:, :300], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out[1].numpy(), b64 @ b64, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(out[2].numpy(), b32.T @ b32[:, :96], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out[3].numpy(), np.matmul(bt, bt), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out[4].numpy(), b64[:90] @ b64[:, :250], rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(out[5].numpy(), b64[:90] @ b64[:250].T, rtol=1e-12, atol=1e-10)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores")
def test_large_products_start_no_threads_of_their_own(restore_threads):
    # the blocks of a product run on our OpenMP pool, one single-threaded OpenBLAS call each
    rv.set_num_threads(2)
    rv.ones(4_000_000).sum()  # starts our OpenMP pool
    a = rv.ones(1024, 1024, dtype=rv.float64)  # float32 may take the panel GEMM instead
    rng = np.random.default_rng(0)
    p = rng.standard_normal((512, 8, 8)).astype(np.float32)
    has_tasks = os.path.isdir("/proc/self/task")
    before = set(os.listdir("/proc/self/task")) if has_tasks else set()
    out = a @ a
    small = from_np(p) @ from_np(p)  # a batch of small matrices, spread over our threads
    large = rv.ones(2, 1024, 1024) @ rv.ones(2, 1024, 1024)  # one at a time, each split
    if has_tasks:
        # (threads of earlier tests may exit meanwhile)
        assert set(os.listdir("/proc/self/task")) - before == set()
    assert (out.numpy() == 1024.0).all()
    assert (large.numpy() == 1024.0).all()
    np.testing.assert_allclose(small.numpy(), np.matmul(p, p), rtol=1e-4, atol=1e-5)
    assert rv.get_num_threads() == 2
