"""ranvier.data (also ranvier.utils.data): datasets, samplers, collation and the DataLoader.
Subpackages `transforms` and `datasets` are imported on first use."""
from ranvier.data.dataset import (Dataset, IterableDataset, TensorDataset, StackDataset, Subset,
                                  ConcatDataset, ChainDataset, random_split)
from ranvier.data.sampler import (Sampler, SequentialSampler, RandomSampler,
                                  SubsetRandomSampler, WeightedRandomSampler, BatchSampler)
from ranvier.data.collate import default_collate, default_convert
from ranvier.data.dataloader import DataLoader
from ranvier.data._worker import WorkerInfo, get_worker_info

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "Subset",
           "ConcatDataset", "ChainDataset", "random_split", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "default_collate", "default_convert", "DataLoader", "WorkerInfo", "get_worker_info"]


def __getattr__(name):
    if name in ("transforms", "datasets"):
        import importlib
        return importlib.import_module(f"ranvier.data.{name}")
    raise AttributeError(f"module 'ranvier.data' has no attribute {name!r}")
