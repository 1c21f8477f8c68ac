"""DataLoader: batches from a dataset, in the main thread (num_workers=0), in worker threads
(the default for num_workers > 0: ranvier's C++ ops release the GIL) or in worker processes
(multiprocessing_context=... or worker_mode="process").

Order and randomness: the sampler runs in the main thread and the epoch's base seed is drawn
there, so batches are identical for any num_workers (Note [Loader randomness] in _worker.py).
Tasks go to workers round-robin, at most prefetch_factor * num_workers in flight, and results
are handed out in task order. Abandoning an iterator (break, del, garbage collection) stops and
joins its workers. pin_memory=True copies every batch's tensors into pinned host memory (in the
main thread, as batches are handed out) when CUDA is available, and warns and does nothing
otherwise."""
import itertools
import multiprocessing
import queue
import threading
import time
import warnings
import weakref

import ranvier
from ranvier.data import _worker
from ranvier.data.collate import default_collate, default_convert
from ranvier.data.dataset import IterableDataset
from ranvier.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler)

__all__ = ["DataLoader", "get_worker_info"]

get_worker_info = _worker.get_worker_info
_INT64_MAX = 2 ** 63 - 1
_POLL_S = 2.0


def _pin(data):
    """data with every tensor in it pinned (tensors in dicts, lists, tuples, namedtuples; any
    object with its own pin_memory() method)."""
    if isinstance(data, ranvier.Tensor):
        return data.pin_memory()
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, dict):
        return type(data)((k, _pin(v)) for k, v in data.items()) if type(data) is not dict \
            else {k: _pin(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(_pin(v) for v in data))
    if isinstance(data, (list, tuple)):
        return type(data)(_pin(v) for v in data)
    if hasattr(data, "pin_memory"):
        return data.pin_memory()
    return data


def _pinning(loader):
    """Whether batches get pinned: pin_memory=True and CUDA available (warns otherwise)."""
    if not loader.pin_memory:
        return False
    if not ranvier.cuda.is_available():
        warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then "
                      "device pinned memory won't be used.")
        return False
    return True


class _InfiniteConstantSampler(Sampler):
    """For iterable datasets: an endless stream of None (each worker reads its own iterator)."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Combines a dataset and a sampler and iterates over batches. Arguments as in PyTorch;
    `worker_mode` ("thread" or "process") is ranvier's own, and a multiprocessing_context
    implies "process"."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True, worker_mode=None):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError("prefetch_factor option should be a positive integer")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if worker_mode not in (None, "thread", "process"):
            raise ValueError(f"worker_mode must be 'thread' or 'process', got {worker_mode!r}")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.worker_mode = worker_mode or ("process" if multiprocessing_context is not None
                                           else "thread")
        self.in_order = in_order
        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            if shuffle not in (False, None):
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator = None
        self.persistent_workers = persistent_workers

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleIter(self)
        if self.persistent_workers:
            if self._iterator is None or self._iterator._shut:
                self._iterator = _WorkerIter(self)
            else:
                self._iterator._reset(self)
            return self._iterator
        return _WorkerIter(self)

    def __len__(self):
        if self._is_iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def __del__(self):
        it = self.__dict__.get("_iterator")
        if it is not None:
            it._shutdown()


class _BaseIter:
    def __init__(self, loader):
        self._loader = weakref.ref(loader)
        self._is_iterable = loader._is_iterable
        self._auto_collation = loader._auto_collation
        self._collate_fn = loader.collate_fn
        self._drop_last = loader.drop_last
        self._dataset = loader.dataset
        self._index_sampler = loader._index_sampler
        self._batch_size = loader.batch_size
        self._pin = _pinning(loader)
        self._new_epoch(loader)

    def _new_epoch(self, loader):
        # Note [Loader randomness]: the base seed is drawn before the sampler starts.
        self._base_seed = int(ranvier.randint(0, _INT64_MAX, (), dtype=ranvier.int64,
                                              generator=loader.generator).item())
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._task_counter = itertools.count()

    def _next_index(self):
        index = next(self._sampler_iter)
        if self._is_iterable and self._auto_collation:
            return self._batch_size  # fetchers of iterable datasets take a count
        return index

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader())


class _SingleIter(_BaseIter):
    """num_workers=0: fetch in the calling thread."""

    def __init__(self, loader):
        super().__init__(loader)
        self._fetcher = _worker.make_fetcher(self._is_iterable, self._dataset,
                                             self._auto_collation, self._collate_fn,
                                             self._drop_last)

    def __next__(self):
        index = self._next_index()
        seed = _worker.batch_seed(self._base_seed, next(self._task_counter))
        with _worker._BatchRandomness(seed):
            data = self._fetcher.fetch(index)
        self._num_yielded += 1
        return _pin(data) if self._pin else data


class _WorkerIter(_BaseIter):
    """num_workers > 0: threads or processes fed through per-worker index queues."""

    def __init__(self, loader):
        super().__init__(loader)
        self._shut = True
        n = loader.num_workers
        self._num_workers = n
        self._timeout = loader.timeout
        self._prefetch = loader.prefetch_factor * n
        self._persistent = loader.persistent_workers
        self._process = loader.worker_mode == "process"
        if self._process:
            _worker.register_tensor_reducer()
            ctx = loader.multiprocessing_context
            if ctx is None or isinstance(ctx, str):
                ctx = multiprocessing.get_context(ctx or "fork")
            make_queue, make_event = ctx.Queue, ctx.Event
            make_worker = ctx.Process
        else:
            make_queue, make_event = queue.Queue, threading.Event
            make_worker = threading.Thread
        self._done_event = make_event()
        self._result_queue = make_queue()
        self._index_queues, self._workers = [], []
        self._shut = False
        try:
            for wid in range(n):
                iq = make_queue()
                args = (self._is_iterable, self._dataset, iq, self._result_queue,
                        self._done_event, self._auto_collation, self._collate_fn,
                        self._drop_last, self._base_seed, loader.worker_init_fn, wid, n,
                        self._process)
                w = make_worker(target=_worker.worker_loop, args=args, daemon=True,
                                name=f"ranvier-data-worker-{wid}")
                self._index_queues.append(iq)
                w.start()
                self._workers.append(w)
            self._start_epoch()
        except BaseException:
            self._shutdown()  # e.g. an unpicklable dataset for a spawned worker
            raise

    def _start_epoch(self):
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info = {}
        self._tasks_out = 0
        self._active = [True] * self._num_workers
        self._next_worker = itertools.cycle(range(self._num_workers))
        for _ in range(self._prefetch):
            self._try_put_index()

    def _reset(self, loader):
        """A new epoch on persistent workers: flush the old one, then restart."""
        self._new_epoch(loader)
        for q in self._index_queues:
            q.put(_worker._Resume())
        acks = 0
        while acks < self._num_workers:
            ok, msg = self._get_result()
            if ok and isinstance(msg[0], _worker._Resume):
                acks += 1
        self._start_epoch()

    def _try_put_index(self):
        if not any(self._active):
            return
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            wid = next(self._next_worker)
            if self._active[wid]:
                break
        task = next(self._task_counter)
        seed = _worker.batch_seed(self._base_seed, task)
        self._index_queues[wid].put((self._send_idx, index, seed))
        self._task_info[self._send_idx] = (wid,)
        self._send_idx += 1
        self._tasks_out += 1

    def _get_result(self):
        """(True, (idx, data)) from the result queue, honouring timeout and noticing dead
        workers."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
            try:
                return True, self._result_queue.get(timeout=max(wait, 0.0))
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    self._shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
                dead = [i for i, w in enumerate(self._workers) if not w.is_alive()]
                if dead:
                    codes = [getattr(self._workers[i], "exitcode", None) for i in dead]
                    self._shutdown()
                    raise RuntimeError(f"DataLoader worker(s) {dead} exited unexpectedly "
                                       f"(exit codes {codes})")

    def __next__(self):
        if self._shut:
            raise StopIteration
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._active[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                return self._process_data(info[1])
            _, (idx, data) = self._get_result()
            if isinstance(idx, _worker._Resume):
                continue
            self._tasks_out -= 1
            if isinstance(data, _worker._IterableEnd):
                self._active[data.worker_id] = False
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)
                continue
            del self._task_info[idx]
            return self._process_data(data)

    def _process_data(self, data):
        self._rcvd_idx += 1
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        if self._process:
            data = _worker.unpack(data)
        self._num_yielded += 1
        return _pin(data) if self._pin else data

    def _shutdown(self):
        if getattr(self, "_shut", True):
            return
        self._shut = True
        try:
            self._done_event.set()
            for q in self._index_queues:
                q.put(None)
            deadline = time.monotonic() + 5.0  # a thread stuck in user code is left behind
            for w in self._workers:
                w.join(timeout=max(0.0, deadline - time.monotonic()))
            if self._process:
                for w in self._workers:
                    if w.is_alive():
                        w.terminate()
                for q in self._index_queues + [self._result_queue]:
                    q.cancel_join_thread()
                    q.close()
        finally:
            self._workers = []

    def __del__(self):
        self._shutdown()
