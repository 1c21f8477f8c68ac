"""What runs inside a DataLoader worker (a thread or a process): the worker loop, WorkerInfo /
get_worker_info, the per-batch generator that random transforms draw from, fetchers (how a
batch is read from a map-style or iterable dataset), exception wrapping, and the packing of
tensors for the trip through a multiprocessing queue.

Note [Loader randomness]: every batch is fetched under a generator seeded from (the epoch's
base seed, the batch's index). The base seed is drawn in the main thread from the loader's
generator (or the global one), so the batches — augmentation included — are the same for any
num_workers and any worker mode."""
import os
import queue
import random
import sys
import threading
import traceback

import ranvier

__all__ = ["WorkerInfo", "get_worker_info"]

_local = threading.local()


class WorkerInfo:
    """id, num_workers, seed and dataset of the current worker (read-only)."""

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, key, val):
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={type(self.dataset).__name__})")


def get_worker_info():
    """The WorkerInfo of the calling DataLoader worker, or None in the main thread/process."""
    return getattr(_local, "info", None)


def current_generator():
    """The generator for the batch being fetched in this thread (Note [Loader randomness]), or
    None outside a loader fetch (callers then use ranvier's global generator)."""
    return getattr(_local, "generator", None)


_MASK63 = (1 << 63) - 1


def batch_seed(base_seed, index):
    """A well-mixed 63-bit seed from (base seed, batch index) (splitmix64 finaliser)."""
    z = (base_seed + 0x9E3779B97F4A7C15 * (index + 1)) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & _MASK63


class _BatchRandomness:
    """Context: makes current_generator() a generator seeded for one batch."""

    def __init__(self, seed):
        self.seed = seed

    def __enter__(self):
        self.prev = getattr(_local, "generator", None)
        _local.generator = ranvier.Generator().manual_seed(self.seed)

    def __exit__(self, *exc):
        _local.generator = self.prev
        return False


class ExceptionWrapper:
    """An exception caught in a worker, carried to the caller with its traceback text."""

    def __init__(self, exc_info, where):
        self.exc_type = exc_info[0]
        self.msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.msg}"
        try:
            exc = self.exc_type(msg)
        except Exception:
            exc = RuntimeError(msg)
        try:
            raise exc
        finally:
            del exc  # no frame -> exception -> traceback -> frame cycle


class _IterableEnd:
    """Sent by a worker whose iterable dataset is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class _Resume:
    """Sent to persistent workers at the start of a new epoch; echoed back as an ack."""


class _MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto, self.collate_fn = dataset, auto_collation, collate_fn
        from ranvier.data.collate import default_collate
        self.fast = auto_collation and collate_fn is default_collate

    def _tensor_batch(self, index):
        """Note [TensorDataset fast path]: a TensorDataset (possibly under Subsets) with the
        default collate is batched by indexing each tensor with the index list once, which
        gives exactly default_collate's result ([stack of field k] for each field) without a
        Python-level loop over samples. None when the dataset is something else."""
        from ranvier.data.dataset import Subset, TensorDataset
        ds = self.dataset
        while type(ds) is Subset:
            index = [ds.indices[i] for i in index]
            ds = ds.dataset
        if type(ds) is not TensorDataset:
            return None
        import numpy as np
        idx = ranvier.from_numpy(np.asarray(index, dtype=np.int64))
        return [t[idx] for t in ds.tensors]

    def fetch(self, index):
        if self.fast:
            out = self._tensor_batch(index)
            if out is not None:
                return out
        if self.auto:
            many = getattr(self.dataset, "__getitems__", None)
            data = many(index) if callable(many) else [self.dataset[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class _IterFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.it = iter(dataset)
        self.auto, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, batch_size):
        if self.ended:
            raise StopIteration
        if self.auto:
            data = []
            for _ in range(batch_size):
                try:
                    data.append(next(self.it))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < batch_size):
                raise StopIteration
        else:
            data = next(self.it)
        return self.collate_fn(data)


def make_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last):
    cls = _IterFetcher if is_iterable else _MapFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


# ---- tensors through multiprocessing queues ----
class _PackedTensor:
    __slots__ = ("array", "dtype")

    def __init__(self, t):
        t = t.detach()
        self.dtype = str(t.dtype)
        if t.dtype == ranvier.bfloat16:
            t = t.float()
        self.array = t.contiguous().numpy()

    def unpack(self):
        import numpy as np
        t = ranvier.from_numpy(np.ascontiguousarray(self.array))
        if self.dtype == "ranvier.bfloat16":
            t = t.to(ranvier.bfloat16)
        return t


def _rebuild_tensor(array, dtype):
    t = ranvier.from_numpy(array)
    return t.to(ranvier.bfloat16) if dtype == "ranvier.bfloat16" else t


def _reduce_tensor(t):
    p = _PackedTensor(t)
    return _rebuild_tensor, (p.array, p.dtype)


def register_tensor_reducer():
    """Lets multiprocessing (only it: plain pickle still refuses tensors) send tensors, e.g.
    inside a dataset given to a spawned worker. Values only: requires_grad is dropped."""
    from multiprocessing.reduction import ForkingPickler
    ForkingPickler.register(ranvier.Tensor, _reduce_tensor)


def pack(obj):
    """Replaces tensors inside lists/tuples/dicts by picklable NumPy-backed records."""
    if isinstance(obj, ranvier.Tensor):
        return _PackedTensor(obj)
    if type(obj) in (list, tuple):
        return type(obj)(pack(x) for x in obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(pack(x) for x in obj))
    if type(obj) is dict:
        return {k: pack(v) for k, v in obj.items()}
    return obj


def unpack(obj):
    if isinstance(obj, _PackedTensor):
        return obj.unpack()
    if type(obj) in (list, tuple):
        return type(obj)(unpack(x) for x in obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(unpack(x) for x in obj))
    if type(obj) is dict:
        return {k: unpack(v) for k, v in obj.items()}
    return obj


def worker_loop(is_iterable, dataset, index_queue, result_queue, done_event, auto_collation,
                collate_fn, drop_last, base_seed, init_fn, worker_id, num_workers, is_process):
    """Serves (task index, batch indices, batch seed) messages until it receives None."""
    seed = (base_seed + worker_id) & _MASK63
    _local.info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
    init_error = None
    try:
        if is_process:
            register_tensor_reducer()  # (a spawned child starts without it)
            ranvier.set_num_threads(1)  # no OpenMP team in a forked child
            ranvier.manual_seed(seed)
            random.seed(seed)
            if "numpy" in sys.modules:
                sys.modules["numpy"].random.seed(seed % (2 ** 32))
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = make_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)
    except Exception:
        init_error = ExceptionWrapper(sys.exc_info(), f"in DataLoader worker {worker_id}")
        fetcher = None
    exhausted = False
    parent = os.getppid() if is_process else None
    while True:
        try:
            msg = index_queue.get(timeout=0.1 if is_process else None)
        except queue.Empty:
            # a process also stops on the event alone (its queues may already be finalised
            # when the iterator is collected) or when the parent died
            if is_process and (done_event.is_set() or os.getppid() != parent):
                break
            continue
        if msg is None:
            break
        if isinstance(msg, _Resume):
            if is_iterable and init_error is None:
                fetcher = make_fetcher(is_iterable, dataset, auto_collation, collate_fn,
                                       drop_last)
            exhausted = False
            result_queue.put((msg, None))
            continue
        if done_event.is_set() or exhausted:
            continue
        idx, index, bseed = msg
        if init_error is not None:
            data, init_error = init_error, None
            exhausted = is_iterable
        else:
            try:
                with _BatchRandomness(bseed):
                    data = fetcher.fetch(index)
            except StopIteration:
                if not is_iterable:
                    data = ExceptionWrapper(sys.exc_info(), f"in DataLoader worker {worker_id}")
                else:
                    data = _IterableEnd(worker_id)
                    exhausted = True
            except Exception:
                data = ExceptionWrapper(sys.exc_info(), f"in DataLoader worker {worker_id}")
        if is_process and not isinstance(data, (ExceptionWrapper, _IterableEnd)):
            try:
                data = pack(data)
            except Exception:
                data = ExceptionWrapper(sys.exc_info(), f"in DataLoader worker {worker_id}")
        result_queue.put((idx, data))
        del data
    if is_process:
        result_queue.cancel_join_thread()
