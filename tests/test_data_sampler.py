"""ranvier.data: datasets (TensorDataset, Subset, ConcatDataset, random_split), samplers and
default_collate / default_convert."""
import collections

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ranvier
from ranvier.data import (BatchSampler, ConcatDataset, Dataset, RandomSampler,
                          SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                          WeightedRandomSampler, default_collate, default_convert, random_split)
from helpers import assert_close, rand_np, shapes, to_np


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


def test_utils_data_alias():
    import ranvier.utils.data as ud
    from ranvier.utils.data import DataLoader
    assert DataLoader is ranvier.data.DataLoader
    assert ud is ranvier.data
    assert ranvier.utils.data.TensorDataset is TensorDataset


def test_import_ranvier_does_not_load_data_or_numpy():
    import subprocess
    import sys
    code = ("import sys, ranvier; a = 'ranvier.data' in sys.modules; ranvier.data.DataLoader; "
            "import ranvier.data.transforms, ranvier.data.datasets; "
            "print(a, 'ranvier.data' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True", "False"]


def test_tensor_dataset():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.array([3, 1, 4, 1], dtype=np.int64)
    ds = TensorDataset(ranvier.from_numpy(x), ranvier.from_numpy(y))
    assert len(ds) == 4
    a, b = ds[2]
    assert_close(a, x[2])
    assert int(b) == 4
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(ranvier.zeros(3), ranvier.zeros(4))


def test_subset_concat_add():
    a, b = Squares(3), Squares(4)
    c = a + b
    assert isinstance(c, ConcatDataset)
    assert [c[i] for i in range(len(c))] == [0, 1, 4, 0, 1, 4, 9]
    assert c[-1] == 9 and c.cumulative_sizes == [3, 7]
    with pytest.raises(IndexError):
        c[7]
    with pytest.raises(ValueError, match="exceed"):
        c[-8]
    s = Subset(b, [3, 0])
    assert len(s) == 2 and s[0] == 9 and s[1] == 0
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


def test_random_split_lengths_and_fractions():
    ds = Squares(10)
    ranvier.manual_seed(0)
    parts = random_split(ds, [3, 7])
    idx = parts[0].indices + parts[1].indices
    assert sorted(idx) == list(range(10)) and len(parts[0]) == 3
    # same generator state -> same split; the permutation is ranvier.randperm's
    g = ranvier.Generator().manual_seed(5)
    p1 = random_split(ds, [0.5, 0.3, 0.2], generator=g)
    expected = ranvier.randperm(10, generator=ranvier.Generator().manual_seed(5)).tolist()
    assert [len(p) for p in p1] == [5, 3, 2]
    assert p1[0].indices + p1[1].indices + p1[2].indices == expected
    # fractions that do not divide evenly: remainder round-robin from the first part
    assert [len(p) for p in random_split(Squares(11), [0.5, 0.5])] == [6, 5]
    assert [len(p) for p in random_split(Squares(10), [0.33, 0.33, 0.34])] == [4, 3, 3]
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(ds, [3, 3])


def test_sequential_and_random_sampler():
    ds = Squares(7)
    assert list(SequentialSampler(ds)) == list(range(7))
    g = ranvier.Generator().manual_seed(3)
    perm = list(RandomSampler(ds, generator=g))
    assert perm == ranvier.randperm(7, generator=ranvier.Generator().manual_seed(3)).tolist()
    # the global seed controls a generator-less sampler
    ranvier.manual_seed(11)
    a = list(RandomSampler(ds))
    ranvier.manual_seed(11)
    b = list(RandomSampler(ds))
    assert a == b and sorted(a) == list(range(7))
    # num_samples larger than the dataset without replacement: whole permutations
    s = list(RandomSampler(ds, num_samples=17, generator=g))
    assert len(s) == 17 and sorted(s[:7]) == list(range(7)) and sorted(s[7:14]) == list(range(7))
    r = list(RandomSampler(ds, replacement=True, num_samples=100, generator=g))
    assert len(r) == 100 and all(0 <= i < 7 for i in r)
    assert len(set(r)) == 7  # 100 draws over 7 values hit every value (p(miss) < 1e-5)
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(ds, num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(ds, replacement=1)


def test_subset_random_sampler():
    g = ranvier.Generator().manual_seed(1)
    s = list(SubsetRandomSampler([10, 20, 30, 40], generator=g))
    perm = ranvier.randperm(4, generator=ranvier.Generator().manual_seed(1)).tolist()
    assert s == [[10, 20, 30, 40][i] for i in perm]


def test_weighted_random_sampler_frequencies():
    w = [0.1, 0.0, 0.6, 0.3]
    g = ranvier.Generator().manual_seed(0)
    draws = list(WeightedRandomSampler(w, 20000, replacement=True, generator=g))
    freq = np.bincount(draws, minlength=4) / 20000
    np.testing.assert_allclose(freq, w, atol=0.02)
    assert freq[1] == 0
    # without replacement: distinct indices, zero weights never drawn while others remain
    d = list(WeightedRandomSampler(ranvier.tensor(w), 3, replacement=False, generator=g))
    assert sorted(d) == [0, 2, 3]
    # without replacement the heaviest item comes first most often
    firsts = [list(WeightedRandomSampler([1.0, 8.0, 1.0], 1, replacement=False,
                                         generator=g))[0] for _ in range(2000)]
    assert abs(np.mean(np.array(firsts) == 1) - 0.8) < 0.04
    with pytest.raises(RuntimeError, match="without replacement"):
        WeightedRandomSampler(w, 4, replacement=False)
    with pytest.raises(RuntimeError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(ValueError, match="num_samples"):
        WeightedRandomSampler(w, 0)


def test_batch_sampler():
    bs = BatchSampler(SequentialSampler(range(10)), 3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]] and len(bs) == 4
    bs = BatchSampler(SequentialSampler(range(10)), 3, drop_last=True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and len(bs) == 3
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last"):
        BatchSampler(range(3), 2, None)


Point = collections.namedtuple("Point", ["x", "y"])


def test_default_collate_structures():
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(4)]
    out = default_collate([ranvier.from_numpy(a) for a in arrs])
    assert_close(out, np.stack(arrs))
    assert_close(default_collate(arrs), np.stack(arrs))
    assert_close(default_collate([1, 2, 3]), np.array([1, 2, 3], dtype=np.int64))
    assert_close(default_collate([0.5, 1.5]), np.array([0.5, 1.5], dtype=np.float64))
    assert_close(default_collate([True, False]), np.array([True, False]))
    assert_close(default_collate([np.float32(1), np.float32(2)]),
                 np.array([1, 2], dtype=np.float32))
    assert default_collate(["a", "b"]) == ["a", "b"]
    batch = [({"img": arrs[i], "label": i}, "s%d" % i) for i in range(4)]
    out = default_collate(batch)
    assert isinstance(out, list) and len(out) == 2
    assert_close(out[0]["img"], np.stack(arrs))
    assert_close(out[0]["label"], np.arange(4, dtype=np.int64))
    assert out[1] == ("s0", "s1", "s2", "s3")  # strings stay as given (a tuple here)
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point)
    assert_close(p.x, np.array([1, 3], dtype=np.int64))
    assert_close(p.y, np.array([2.0, 4.0]))
    lst = default_collate([[1, 2], [3, 4]])
    assert isinstance(lst, list)
    assert_close(lst[0], np.array([1, 3], dtype=np.int64))


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([ranvier.zeros(2), ranvier.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="dtype"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    a = np.arange(6).reshape(2, 3)
    t = default_convert(a)
    assert isinstance(t, ranvier.Tensor)
    assert_close(t, a)
    out = default_convert({"a": a, "b": (a, 3)})
    assert isinstance(out["b"], list) and out["b"][1] == 3
    assert_close(out["b"][0], a)
    assert default_convert("s") == "s"
    p = default_convert(Point(a, 1))
    assert isinstance(p, Point) and isinstance(p.x, ranvier.Tensor)


@settings(max_examples=20)
@given(shape=shapes(max_dims=3, max_side=4), n=st.integers(1, 4),
       dtype=st.sampled_from([np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_]))
def test_default_collate_stacks_any_shape_and_dtype(shape, n, dtype):
    rng = np.random.default_rng(0)
    arrs = [rand_np(shape, dtype, rng) for _ in range(n)]
    assert_close(default_collate(arrs), np.stack(arrs))
    assert_close(default_collate([ranvier.from_numpy(a.copy()) for a in arrs]), np.stack(arrs))


def test_default_collate_matches_torch_structure():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as tc
    samples = [({"a": np.ones(2, np.float32) * i, "b": i}, [i * 0.5, "s"], Point(i, True))
               for i in range(3)]
    ours, theirs = default_collate(samples), tc(samples)

    def same(o, t):
        if isinstance(t, torch.Tensor):
            assert isinstance(o, ranvier.Tensor)
            assert str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
            np.testing.assert_array_equal(to_np(o), t.numpy())
        elif isinstance(t, dict):
            assert type(o) is type(t) and o.keys() == t.keys()
            for k in t:
                same(o[k], t[k])
        elif isinstance(t, (list, tuple)):
            assert type(o) is type(t) and len(o) == len(t)
            for a, b in zip(o, t):
                same(a, b)
        else:
            assert o == t

    same(ours, theirs)


def test_stack_and_chain_datasets():
    from ranvier.data import ChainDataset, IterableDataset, StackDataset
    a, b = Squares(3), Squares(3)
    assert StackDataset(a, b)[2] == (4, 4)
    assert StackDataset(x=a, y=b)[1] == {"x": 1, "y": 1}
    with pytest.raises(ValueError, match="size mismatch"):
        StackDataset(a, Squares(4))

    class It(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

    c = It(2) + It(3)
    assert isinstance(c, ChainDataset) and list(c) == [0, 1, 0, 1, 2]
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([It(2)])
