"""ranvier.data.DataLoader: order, batching, drop_last, len, same batches for any num_workers
and worker mode, worker exceptions with their traceback, early break without leaking threads,
persistent workers, timeout, worker_init_fn / get_worker_info, iterable datasets."""
import gc
import threading
import time

import numpy as np
import pytest

import ranvier
from ranvier.data import (DataLoader, Dataset, IterableDataset, TensorDataset,
                          get_worker_info)
from ranvier.data import transforms as T
from helpers import to_np


class Indexed(Dataset):
    """Item i is (float32 vector filled with i, i)."""

    def __init__(self, n, dim=3, fail_at=None, delay=0.0):
        self.n, self.dim, self.fail_at, self.delay = n, dim, fail_at, delay

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.delay:
            time.sleep(self.delay)
        if i == self.fail_at:
            raise ValueError(f"bad item {i}")
        return np.full(self.dim, i, dtype=np.float32), i


class Augmented(Dataset):
    """Items pass through random transforms (noise + flip), so batches depend on the loader's
    randomness."""

    def __init__(self, n):
        self.n = n
        self.t = T.Compose([T.GaussianNoise(sigma=0.1, clip=False), T.RandomHorizontalFlip()])

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        img = ranvier.from_numpy(np.full((1, 2, 4), i / 100, dtype=np.float32)
                                 + np.arange(4, dtype=np.float32))
        return self.t(img), i


def _labels(loader):
    return [b[1].tolist() for b in loader]


def test_sequential_order_batching_drop_last_len():
    dl = DataLoader(Indexed(10), batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and len(batches) == 3
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x0 = to_np(batches[0][0])
    np.testing.assert_array_equal(x0, np.repeat(np.arange(4, dtype=np.float32)[:, None], 3, 1))
    assert batches[0][1].dtype == ranvier.int64
    dl = DataLoader(Indexed(10), batch_size=4, drop_last=True)
    assert len(dl) == 2 and _labels(dl) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_batch_size_none_and_custom_collate():
    dl = DataLoader(Indexed(3), batch_size=None)
    items = list(dl)
    assert len(items) == 3 and isinstance(items[1][0], ranvier.Tensor) and items[1][1] == 1
    dl = DataLoader(Indexed(5), batch_size=2, collate_fn=lambda b: [i for _, i in b])
    assert list(dl) == [[0, 1], [2, 3], [4]]


def test_tensor_dataset_shuffle_covers_everything():
    x = ranvier.arange(20)
    dl = DataLoader(TensorDataset(x), batch_size=6, shuffle=True)
    seen = sorted(v for (b,) in dl for v in b.tolist())
    assert seen == list(range(20))


def test_argument_errors():
    ds = Indexed(4)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="timeout"):
        DataLoader(ds, timeout=-1)


@pytest.mark.parametrize("workers", [2, 3])
def test_same_batches_for_any_num_workers(workers):
    ds = Augmented(23)

    def run(nw, mode=None):
        ranvier.manual_seed(1234)
        dl = DataLoader(ds, batch_size=4, shuffle=True, num_workers=nw, worker_mode=mode)
        out = []
        for epoch in range(2):
            out.append([(to_np(x), y.tolist()) for x, y in dl])
        return out

    ref = run(0)
    got = run(workers)
    assert len(ref[0]) == 6
    for e in range(2):
        for (xr, yr), (xg, yg) in zip(ref[e], got[e]):
            assert yr == yg
            np.testing.assert_array_equal(xr, xg)
    # the two epochs differ (new order and new augmentation)
    assert [y for _, y in ref[0]] != [y for _, y in ref[1]]
    # a different seed gives a different order
    ranvier.manual_seed(99)
    other = [y.tolist() for _, y in DataLoader(ds, batch_size=4, shuffle=True)]
    assert other != [y for _, y in ref[0]]


def test_same_batches_with_loader_generator_and_processes():
    ds = Augmented(10)
    outs = []
    for nw, mode in ((0, None), (2, "thread"), (2, "process")):
        g = ranvier.Generator().manual_seed(7)
        dl = DataLoader(ds, batch_size=3, shuffle=True, num_workers=nw, generator=g,
                        worker_mode=mode)
        outs.append([(to_np(x), y.tolist()) for x, y in dl])
    for other in outs[1:]:
        assert [y for _, y in other] == [y for _, y in outs[0]]
        for (a, _), (b, _) in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


def test_multiprocessing_context_uses_processes():
    class Pid(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            import os
            return os.getpid()

    import os
    pids = [int(p) for b in DataLoader(Pid(), batch_size=2, num_workers=2,
                                       multiprocessing_context="fork") for p in b.tolist()]
    assert all(p != os.getpid() for p in pids)
    pids = [int(p) for b in DataLoader(Pid(), batch_size=2, num_workers=2) for p in b.tolist()]
    assert all(p == os.getpid() for p in pids)  # threads by default


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_worker_exception_carries_traceback(mode):
    dl = DataLoader(Indexed(8, fail_at=5), batch_size=2, num_workers=2, worker_mode=mode)
    it = iter(dl)
    assert next(it)[1].tolist() == [0, 1]
    assert next(it)[1].tolist() == [2, 3]
    with pytest.raises(ValueError) as info:
        next(it)
    msg = str(info.value)
    assert "bad item 5" in msg and "DataLoader worker" in msg and "__getitem__" in msg
    assert "Traceback" in msg
    del it


def test_main_thread_exception_is_plain():
    with pytest.raises(ValueError, match="bad item 1"):
        list(DataLoader(Indexed(4, fail_at=1), batch_size=2))


def _worker_threads():
    return [t for t in threading.enumerate() if t.name.startswith("ranvier-data-worker")]


def test_early_break_and_del_do_not_leak_threads():
    gc.collect()  # iterators of earlier tests kept alive by tracebacks
    base = threading.active_count()
    dl = DataLoader(Indexed(200, delay=0.001), batch_size=2, num_workers=3)
    for i, _ in enumerate(dl):
        if i == 2:
            break
    gc.collect()
    assert threading.active_count() == base and not _worker_threads()
    it = iter(dl)
    next(it)
    assert len(_worker_threads()) == 3
    del it
    gc.collect()
    assert threading.active_count() == base and not _worker_threads()
    # an exception mid-epoch followed by abandoning the iterator
    try:
        for _ in DataLoader(Indexed(50, fail_at=7), batch_size=2, num_workers=2):
            pass
    except ValueError:
        pass
    gc.collect()
    assert threading.active_count() == base


def test_persistent_workers_reuse_threads_and_reshuffle():
    gc.collect()  # iterators of earlier tests kept alive by tracebacks
    ranvier.manual_seed(5)
    dl = DataLoader(Indexed(12), batch_size=4, shuffle=True, num_workers=2,
                    persistent_workers=True)
    e1 = _labels(dl)
    ids1 = {t.ident for t in _worker_threads()}
    e2 = _labels(dl)
    ids2 = {t.ident for t in _worker_threads()}
    assert ids1 == ids2 and len(ids1) == 2
    assert sorted(sum(e1, [])) == list(range(12)) and sorted(sum(e2, [])) == list(range(12))
    # same as num_workers=0 with the same seed, epoch after epoch
    ranvier.manual_seed(5)
    ref = DataLoader(Indexed(12), batch_size=4, shuffle=True)
    assert [_labels(ref), _labels(ref)] == [e1, e2]
    # abandoning an epoch half-way then starting the next one
    it = iter(dl)
    next(it)
    e3 = _labels(dl)
    assert sorted(sum(e3, [])) == list(range(12))
    del dl, it
    gc.collect()
    assert not _worker_threads()


def test_timeout():
    dl = DataLoader(Indexed(4, delay=0.5), batch_size=1, num_workers=1, timeout=0.05)
    with pytest.raises(RuntimeError, match="timed out"):
        next(iter(dl))
    gc.collect()


def test_worker_init_fn_and_worker_info():
    seen = []

    def init(wid):
        info = get_worker_info()
        seen.append((wid, info.id, info.num_workers))

    class Who(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return get_worker_info().id

    ids = [v for b in DataLoader(Who(), batch_size=1, num_workers=2, worker_init_fn=init)
           for v in b.tolist()]
    assert ids == [0, 1, 0, 1, 0, 1]  # round-robin task assignment
    assert sorted(seen) == [(0, 0, 2), (1, 1, 2)]
    assert get_worker_info() is None
    info = None

    def grab(_):
        nonlocal info
        info = get_worker_info()

    list(DataLoader(Who(), batch_size=3, num_workers=1, worker_init_fn=grab))
    with pytest.raises(RuntimeError, match="Cannot assign"):
        info.id = 3


class Stream(IterableDataset):
    """0..n-1, sharded across workers by get_worker_info()."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


def test_iterable_dataset_with_and_without_workers():
    assert _flat(DataLoader(Stream(10), batch_size=3)) == list(range(10))
    assert [b.tolist() for b in DataLoader(Stream(10), batch_size=3)][-1] == [9]
    assert len(DataLoader(Stream(10), batch_size=3)) == 4
    assert len(DataLoader(Stream(10), batch_size=3, drop_last=True)) == 3
    got = _flat(DataLoader(Stream(10), batch_size=2, num_workers=3))
    assert sorted(got) == list(range(10))
    got = _flat(DataLoader(Stream(11), batch_size=2, num_workers=2, drop_last=True))
    assert len(got) == 10 and len(set(got)) == 10
    dl = DataLoader(Stream(7), batch_size=2, num_workers=2, persistent_workers=True)
    assert sorted(_flat(dl)) == list(range(7)) and sorted(_flat(dl)) == list(range(7))
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(3), shuffle=True)


def _flat(loader):
    return [v for b in loader for v in b.tolist()]


def test_iterable_dataset_process_workers():
    got = _flat(DataLoader(Stream(9), batch_size=2, num_workers=2, worker_mode="process"))
    assert sorted(got) == list(range(9))


def test_threads_do_not_copy_a_large_dataset():
    """Thread workers share the dataset: indexing a 40 MB array-backed dataset from 3
    workers keeps the resident set near where it started (no per-worker copy)."""
    import resource
    big = np.zeros((10000, 1000), dtype=np.float32)  # 40 MB
    big += 1.0  # touch it
    ds = TensorDataset(ranvier.from_numpy(big))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    n = 0
    for (b,) in DataLoader(ds, batch_size=500, num_workers=3):
        n += b.shape[0]
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert n == 10000
    assert after - before < 30 * 1024  # well below another copy of the data (40 MB)


def test_pin_memory_pins_only_with_cuda():
    loader = DataLoader(Indexed(2), batch_size=2, pin_memory=True)
    if ranvier.cuda.is_available():
        b = next(iter(loader))
        assert b[1].is_pinned()
    else:
        with pytest.warns(UserWarning, match="no accelerator is found"):
            b = next(iter(loader))
        assert not b[1].is_pinned()
    assert b[1].tolist() == [0, 1]


def test_tensor_dataset_fast_path_matches_per_sample_collate():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 2, 3)).astype(np.float32)
    y = rng.integers(0, 5, 20)
    ds = TensorDataset(ranvier.from_numpy(x), ranvier.from_numpy(y))
    sub = ranvier.data.Subset(ds, list(range(19, -1, -1)))
    batches = list(DataLoader(sub, batch_size=6))
    assert isinstance(batches[0], list) and len(batches) == 4
    order = np.arange(19, -1, -1)
    for k, (bx, by) in enumerate(batches):
        sel = order[6 * k:6 * k + 6]
        np.testing.assert_array_equal(to_np(bx), x[sel])
        np.testing.assert_array_equal(to_np(by), y[sel])
    with pytest.raises(IndexError):
        list(DataLoader(ds, batch_size=2, sampler=[0, 25]))


def test_worker_init_fn_error_reaches_caller():
    def bad_init(wid):
        raise KeyError("no such resource")

    gc.collect()

    with pytest.raises(KeyError, match="no such resource"):
        list(DataLoader(Indexed(4), batch_size=2, num_workers=2, worker_init_fn=bad_init))
    gc.collect()
    assert not _worker_threads()


def test_spawn_context_sends_tensor_datasets():
    x = ranvier.arange(10).float()
    out = [b[0].tolist() for b in DataLoader(TensorDataset(x), batch_size=4, num_workers=2,
                                             multiprocessing_context="spawn")]
    assert out == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0]]


def test_process_workers_abandoned_mid_epoch_exit():
    import multiprocessing
    gc.collect()
    before = set(p.pid for p in multiprocessing.active_children())
    dl = DataLoader(Indexed(100), batch_size=2, num_workers=2, worker_mode="process")
    for i, _ in enumerate(dl):
        if i == 1:
            break
    gc.collect()
    t0 = time.monotonic()
    while set(p.pid for p in multiprocessing.active_children()) - before:
        assert time.monotonic() - t0 < 10, "worker processes still alive"
        time.sleep(0.05)


class _Unpicklable(Dataset):
    def __init__(self):
        self.f = lambda: 1

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return i


def test_unpicklable_dataset_with_spawn_fails_cleanly():
    import multiprocessing
    gc.collect()
    before = threading.active_count()
    with pytest.raises(Exception, match="pickle"):
        list(DataLoader(_Unpicklable(), batch_size=2, num_workers=2,
                        multiprocessing_context="spawn"))
    gc.collect()
    assert not multiprocessing.active_children()
    t0 = time.monotonic()
    while threading.active_count() > before:  # queue feeder threads wind down
        assert time.monotonic() - t0 < 5
        time.sleep(0.05)


def test_process_workers_return_tensors_in_any_container():
    import collections

    class Odd(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return collections.OrderedDict(t=ranvier.full((2,), float(i)))

    out = list(DataLoader(Odd(), batch_size=None, num_workers=1, worker_mode="process"))
    assert [o["t"].tolist() for o in out] == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]


def test_process_worker_seeds():
    class Seeds(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            info = get_worker_info()
            return [info.id, info.seed, ranvier.initial_seed()]

    rows = list(DataLoader(Seeds(), batch_size=None, num_workers=2, worker_mode="process"))
    assert [r[0] for r in rows] == [0, 1, 0, 1]
    assert rows[1][1] == rows[0][1] + 1  # base seed + worker id
    assert all(r[1] == r[2] for r in rows)  # the global generator is seeded with it


def test_thread_workers_overlap():
    """Items that wait (sleep releases the GIL, as ranvier's C++ ops do) are fetched in
    parallel: 8 items of 0.1 s with 4 workers take well under the serial 0.8 s."""
    dl = DataLoader(Indexed(8, delay=0.1), batch_size=1, num_workers=4)
    t = time.monotonic()
    assert _flat_labels(dl) == list(range(8))
    assert time.monotonic() - t < 0.6


def _flat_labels(loader):
    return [v for b in loader for v in b[1].tolist()]
