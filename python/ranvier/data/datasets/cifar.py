"""CIFAR10 and CIFAR100 from the python pickle batches (cifar-10-batches-py/,
cifar-100-python/) or the binary batches (cifar-10-batches-bin/, cifar-100-binary/) under
root. Pickles are read with a restricted unpickler that only rebuilds NumPy arrays and
builtin containers, so a hostile file cannot run code. `.data` is an N x 32 x 32 x 3 uint8
NumPy array and `.targets` a list of ints (like torchvision); an item is (image, label) with
the HWC uint8 array given to `transform`, or, with no transform, a 3 x 32 x 32 float32 tensor
in [0, 1]."""
import io
import os
import pickle
import tarfile

import ranvier
from ranvier.data.dataset import Dataset
from ranvier.data.datasets.utils import download_url

__all__ = ["CIFAR10", "CIFAR100", "safe_unpickle"]

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"),
    ("builtins", "bytearray"), ("builtins", "set"), ("builtins", "frozenset"),
    ("__builtin__", "set"), ("copy_reg", "_reconstructor"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def safe_unpickle(path):
    """Loads a pickle that may only contain builtin containers/scalars and NumPy arrays;
    RuntimeError naming the file otherwise or when the file is corrupted."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise RuntimeError(f"cannot read dataset file {path}: {e}") from e
    try:
        return _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:
        raise RuntimeError(f"corrupted or unsafe pickle file {path}: {type(e).__name__}: {e}") \
            from e


def _key(d, name):
    if name in d:
        return d[name]
    return d.get(name.encode(), None) if isinstance(name, str) else None


class CIFAR10(Dataset):
    """CIFAR-10: 50000 train / 10000 test 32 x 32 colour images in 10 classes."""

    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    py_folder = "cifar-10-batches-py"
    bin_folder = "cifar-10-batches-bin"
    train_list = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                  "data_batch_5"]
    test_list = ["test_batch"]
    label_key = "labels"
    meta_file, meta_key = "batches.meta", "label_names"
    label_bytes = 1
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        import numpy as np
        self.root = os.path.expanduser(str(root))
        self.train, self.transform, self.target_transform = train, transform, target_transform
        names = self.train_list if train else self.test_list
        py = [os.path.join(self.root, self.py_folder, n) for n in names]
        if not all(os.path.isfile(p) for p in py) and not self._have_bin(names) and download:
            self.download()
        if all(os.path.isfile(p) for p in py):
            datas, labels = [], []
            for p in py:
                d = safe_unpickle(p)
                if not isinstance(d, dict) or _key(d, "data") is None \
                        or _key(d, self.label_key) is None:
                    raise RuntimeError(f"{p}: not a CIFAR batch (missing data/"
                                       f"{self.label_key} entries)")
                arr = np.asarray(_key(d, "data"))
                if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != 3072:
                    raise RuntimeError(f"{p}: CIFAR batch data should be uint8 N x 3072, got "
                                       f"{arr.dtype} {arr.shape}")
                lab = list(_key(d, self.label_key))
                if len(lab) != len(arr):
                    raise RuntimeError(f"{p}: {len(arr)} images but {len(lab)} labels")
                datas.append(arr)
                labels.extend(int(x) for x in lab)
            data = np.concatenate(datas)
        elif self._have_bin(names):
            data, labels = self._read_bin(names)
        else:
            raise RuntimeError(
                f"{type(self).__name__}: dataset files not found. Put the python batches "
                f"({', '.join(names)}) in {os.path.join(self.root, self.py_folder)} or the "
                f"binary batches in {os.path.join(self.root, self.bin_folder)}"
                + ("" if download else ", or pass download=True") + ".")
        self.data = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self.targets = labels

    def _bin_names(self, names):
        return [os.path.join(self.root, self.bin_folder, n + ".bin") for n in names]

    def _have_bin(self, names):
        return all(os.path.isfile(p) for p in self._bin_names(names))

    def _read_bin(self, names):
        import numpy as np
        rec = self.label_bytes + 3072
        datas, labels = [], []
        for p in self._bin_names(names):
            raw = np.fromfile(p, dtype=np.uint8)
            if raw.size == 0 or raw.size % rec:
                raise RuntimeError(f"{p}: truncated or corrupted CIFAR binary batch ({raw.size} "
                                   f"bytes is not a multiple of the {rec}-byte record)")
            raw = raw.reshape(-1, rec)
            labels.extend(raw[:, self.label_bytes - 1].astype(int).tolist())
            datas.append(raw[:, self.label_bytes:])
        return np.concatenate(datas), labels

    def download(self):
        try:
            path = download_url(self.url, self.root, os.path.basename(self.url), self.tgz_md5)
        except Exception as e:
            raise RuntimeError(f"{type(self).__name__}: could not download {self.url} ({e}). "
                               f"Without network access, extract {os.path.basename(self.url)} "
                               f"into {self.root}.") from e
        try:
            with tarfile.open(path, "r:gz") as tar:
                for m in tar.getmembers():
                    if not m.isfile() or os.path.isabs(m.name) or ".." in m.name.split("/"):
                        continue
                    dest = os.path.join(self.root, m.name)
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    with tar.extractfile(m) as src, open(dest, "wb") as dst:
                        dst.write(src.read())
        except (tarfile.TarError, OSError, EOFError) as e:
            raise RuntimeError(f"{type(self).__name__}: corrupted archive {path}: {e}") from e

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        img, target = self.data[index], self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        else:
            import numpy as np
            img = ranvier.from_numpy(np.ascontiguousarray(
                img.transpose(2, 0, 1).astype(np.float32) / np.float32(255)))
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}


class CIFAR100(CIFAR10):
    """CIFAR-100: 100 fine classes (targets) grouped into 20 coarse ones."""

    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    py_folder = "cifar-100-python"
    bin_folder = "cifar-100-binary"
    train_list = ["train"]
    test_list = ["test"]
    label_key = "fine_labels"
    meta_file, meta_key = "meta", "fine_label_names"
    label_bytes = 2  # coarse label, then fine label
    classes = None  # read from the meta file when present

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        meta = os.path.join(self.root, self.py_folder, self.meta_file)
        if os.path.isfile(meta):
            d = safe_unpickle(meta)
            names = _key(d, self.meta_key) if isinstance(d, dict) else None
            if names is not None:
                self.classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
