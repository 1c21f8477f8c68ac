"""Batch assembly: default_collate stacks a list of samples into a batch, recursing into
tuples, lists, dicts and namedtuples; default_convert turns NumPy arrays into tensors without
batching (used when batch_size is None)."""
import collections.abc
import numbers

import ranvier

__all__ = ["default_collate", "default_convert"]

_STRING_TYPES = (str, bytes)


def _is_ndarray(x):
    t = type(x)
    return t.__module__ == "numpy" and t.__name__ in ("ndarray", "memmap")


def _is_np_scalar(x):
    return type(x).__module__ == "numpy" and not _is_ndarray(x) and hasattr(x, "dtype")


def _array_to_tensor(a):
    import numpy as np
    if a.dtype.kind in "USO":
        raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                        f"dicts or lists; found numpy array of dtype {a.dtype}")
    return ranvier.from_numpy(np.ascontiguousarray(a))


def default_collate(batch):
    """Collates a list of samples: tensors and arrays are stacked along a new dim 0, Python
    floats -> float64 tensor, ints -> int64 tensor, bools -> bool tensor, strings stay a list,
    mappings/sequences are collated field by field (tuples give lists, like PyTorch)."""
    if not isinstance(batch, (list, tuple)):
        batch = list(batch)
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, ranvier.Tensor):
        shapes = {tuple(b.shape) for b in batch}
        if len(shapes) != 1:
            raise RuntimeError("default_collate: stack expects each tensor to be equal size, "
                               f"but got shapes {sorted(shapes)}")
        return ranvier.stack(list(batch), 0)
    if _is_ndarray(elem):
        import numpy as np
        if elem.dtype.kind in "USO":
            raise TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, "
                            f"dicts or lists; found numpy array of dtype {elem.dtype}")
        shapes = {b.shape for b in batch}
        if len(shapes) != 1:
            raise RuntimeError("default_collate: stack expects each array to be equal size, but "
                               f"got shapes {sorted(shapes)}")
        return ranvier.from_numpy(np.ascontiguousarray(np.stack(batch)))
    if _is_np_scalar(elem):
        import numpy as np
        return _array_to_tensor(np.array(batch))
    if isinstance(elem, bool):
        return ranvier.tensor(list(batch), dtype=ranvier.bool)
    if isinstance(elem, int):
        return ranvier.tensor(list(batch), dtype=ranvier.int64)
    if isinstance(elem, float):
        return ranvier.tensor(list(batch), dtype=ranvier.float64)
    if isinstance(elem, numbers.Number):
        return ranvier.tensor([float(b) for b in batch], dtype=ranvier.float64)
    if isinstance(elem, _STRING_TYPES):
        return batch  # as given: a list at the top, a tuple inside a transposed sequence
    if isinstance(elem, collections.abc.Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        if any(len(b) != n for b in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               "equal size")
        fields = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                    f"or lists; found {type(elem)}")


def default_convert(data):
    """NumPy arrays/scalars -> tensors, recursing into mappings and sequences; other objects
    (tensors, numbers, strings) are returned unchanged."""
    if isinstance(data, ranvier.Tensor):
        return data
    if _is_ndarray(data):
        if data.dtype.kind in "USO":
            return data
        return _array_to_tensor(data)
    if _is_np_scalar(data):
        import numpy as np
        return _array_to_tensor(np.asarray(data))
    if isinstance(data, _STRING_TYPES):
        return data
    if isinstance(data, collections.abc.Mapping):
        out = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(out)
        except TypeError:
            return out
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
