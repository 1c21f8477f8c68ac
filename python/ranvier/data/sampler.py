"""Samplers: the order in which a DataLoader visits a map-style dataset. Sequential, Random
(with or without replacement), SubsetRandom, WeightedRandom and BatchSampler (groups indices
into lists). All randomness is drawn from ranvier generators in the calling (main) thread."""
import ranvier

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]

_INT64_MAX = 2 ** 63 - 1


def _fresh_generator():
    """A new generator seeded from the global one (so that manual_seed controls it)."""
    seed = int(ranvier.randint(0, _INT64_MAX, (), dtype=ranvier.int64).item())
    return ranvier.Generator().manual_seed(seed)


class Sampler:
    """Base class: __iter__ yields dataset indices (or lists of them for batch samplers)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation (replacement=False) or num_samples uniform draws with replacement.
    Without replacement and num_samples > len, whole permutations are concatenated."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError("RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) \
                or self.num_samples <= 0:
            raise ValueError("RandomSampler: num_samples should be a positive integer value, "
                             f"but got num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        gen = self.generator if self.generator is not None else _fresh_generator()
        if self.replacement:
            left = self.num_samples
            while left > 0:  # draw in chunks of 32 like a stream
                k = min(32, left)
                yield from ranvier.randint(0, n, (k,), generator=gen).tolist()
                left -= k
        else:
            for _ in range(self.num_samples // n):
                yield from ranvier.randperm(n, generator=gen).tolist()
            yield from ranvier.randperm(n, generator=gen).tolist()[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (no replacement)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in ranvier.randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """num_samples indices in [0, len(weights)) drawn with probability proportional to weights,
    with or without replacement."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError("WeightedRandomSampler: num_samples should be a positive integer "
                             f"value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("WeightedRandomSampler: replacement should be a boolean value, but "
                             f"got replacement={replacement}")
        import numpy as np
        if isinstance(weights, ranvier.Tensor):
            w = weights.detach().double().numpy()
        else:
            w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1-D sequence, got shape "
                             f"{w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: weights must be finite, non-negative and "
                               "not all zero")
        if not replacement and num_samples > int(np.count_nonzero(w)):
            raise RuntimeError("WeightedRandomSampler: cannot draw num_samples="
                               f"{num_samples} without replacement from "
                               f"{int(np.count_nonzero(w))} non-zero weights")
        self.weights = ranvier.from_numpy(w.copy())
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        import numpy as np
        w = self.weights.numpy()
        u = ranvier.rand(self.num_samples if self.replacement else len(w),
                         dtype=ranvier.float64, generator=self.generator).numpy()
        if self.replacement:
            cdf = np.cumsum(w)
            cdf /= cdf[-1]
            idx = np.searchsorted(cdf, u, side="right")
            idx = np.minimum(idx, len(w) - 1)
        else:
            # Exponential-race sampling: the k smallest of E_i / w_i (E_i ~ Exp(1)) are a
            # weighted draw without replacement in order of selection.
            with np.errstate(divide="ignore"):
                keys = -np.log1p(-u) / w
            idx = np.argsort(keys, kind="stable")[:self.num_samples]
        return iter(idx.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of batch_size (the last one shorter unless
    drop_last)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError("BatchSampler: batch_size should be a positive integer value, but "
                             f"got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError("BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
