"""MNIST, FashionMNIST, KMNIST and EMNIST from their IDX files (gzipped or not), looked up in
root/<ClassName>/raw/, then root/ (FashionMNIST also in Debian's dataset-fashion-mnist
folder). `.data` is a uint8 N x 28 x 28 tensor and `.targets` an int64 tensor; an item is
(image, label) where the image is the uint8 H x W NumPy array given to `transform`, or, with no
transform, a 1 x 28 x 28 float32 tensor in [0, 1] (there is no PIL image type here)."""
import os
import zipfile

import ranvier
from ranvier.data.dataset import Dataset
from ranvier.data.datasets.utils import download_url, find_file, read_idx

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "EMNIST"]


class MNIST(Dataset):
    """The MNIST digits (60000 train / 10000 test images of 28 x 28)."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    #: folders searched after root (FashionMNIST adds the Debian package's).
    system_folders = []

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        self.root = os.path.expanduser(str(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        names = self._file_names()
        paths = self._locate(names)
        if any(p is None for p in paths) and download:
            self.download()
            paths = self._locate(names)
        missing = [n for n, p in zip(names, paths) if p is None]
        if missing:
            raise RuntimeError(
                f"{type(self).__name__}: dataset files not found: {', '.join(missing)} "
                f"(gzipped or not). Put them in {self.raw_folder} or in {self.root}"
                + ("" if download else ", or pass download=True to fetch them") + ".")
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(f"{type(self).__name__}: {paths[0]} (shape {images.shape}) and "
                               f"{paths[1]} (shape {labels.shape}) do not form an image / label "
                               "pair")
        import numpy as np
        images = self._fix_images(np.ascontiguousarray(images.astype(np.uint8, copy=False)))
        self.data = ranvier.from_numpy(images)
        self.targets = ranvier.from_numpy(labels.astype(np.int64))
        self._images = images  # NumPy view of .data
        self._labels = labels.astype(np.int64)

    # -- files --
    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    def _file_names(self):
        prefix = "train" if self.train else "t10k"
        return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]

    def _locate(self, names):
        folders = [self.raw_folder, self.root] + list(self.system_folders)
        return [find_file(n, folders) for n in names]

    def _fix_images(self, images):
        return images

    def download(self):
        """Fetches the gzipped IDX files into raw_folder, trying each mirror in turn."""
        for name, md5 in self.resources:
            if find_file(name, [self.raw_folder]) is not None:
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    download_url(mirror + name, self.raw_folder, name, md5)
                    break
                except Exception as e:  # network or checksum failure: next mirror
                    errors.append(f"{mirror}{name}: {e}")
            else:
                raise RuntimeError(
                    f"{type(self).__name__}: could not download {name} ("
                    + "; ".join(errors) + f"). Without network access, put the files "
                    f"{', '.join(n for n, _ in self.resources)} in {self.raw_folder}.")

    # -- items --
    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        img, target = self._images[index], int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        else:
            import numpy as np
            img = ranvier.from_numpy((img.astype(np.float32) / np.float32(255))[None])
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"

    def __repr__(self):
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    {self.extra_repr()}")


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST (same format as MNIST). Also found in Debian's
    dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist)."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    system_folders = ["/usr/share/datasets/fashion-mnist"]


class KMNIST(MNIST):
    """Kuzushiji-MNIST (cursive Japanese characters, MNIST format)."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
                 ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
                 ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
                 ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134")]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


class EMNIST(MNIST):
    """Extended MNIST: split in byclass, bymerge, balanced, letters, digits, mnist. Files
    emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte(.gz). Images are kept as
    stored in the files (transposed relative to MNIST), like torchvision."""

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    _letters = list("abcdefghijklmnopqrstuvwxyz")
    _digits = [str(i) for i in range(10)]
    _upper = [c.upper() for c in _letters]
    _balanced_lower = ["a", "b", "d", "e", "f", "g", "h", "n", "q", "r", "t"]

    def __init__(self, root, split, **kwargs):
        if split not in self.splits:
            raise ValueError(f"EMNIST: unknown split {split!r}; valid splits are "
                             f"{', '.join(self.splits)}")
        self.split = split
        super().__init__(root, **kwargs)

    @property
    def classes(self):
        s = self.split
        if s in ("digits", "mnist"):
            return self._digits
        if s == "letters":
            return ["N/A"] + self._letters
        if s in ("bymerge", "balanced"):
            return self._digits + self._upper + self._balanced_lower
        return self._digits + self._upper + self._letters

    def _file_names(self):
        part = "train" if self.train else "test"
        return [f"emnist-{self.split}-{part}-images-idx3-ubyte",
                f"emnist-{self.split}-{part}-labels-idx1-ubyte"]

    def download(self):
        """Fetches NIST's gzip.zip and extracts the gzipped IDX files into raw_folder."""
        try:
            path = download_url(self.url, self.raw_folder, "gzip.zip", self.md5)
        except Exception as e:
            raise RuntimeError(f"EMNIST: could not download {self.url} ({e}). Without network "
                               f"access, put the files emnist-<split>-<train|test>-<images-idx3|"
                               f"labels-idx1>-ubyte.gz in {self.raw_folder}.") from e
        try:
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    base = os.path.basename(member)
                    if base.startswith("emnist-") and base.endswith(".gz"):
                        with z.open(member) as src, \
                                open(os.path.join(self.raw_folder, base), "wb") as dst:
                            dst.write(src.read())
        except zipfile.BadZipFile as e:
            raise RuntimeError(f"EMNIST: corrupted archive {path}: {e}") from e

    def extra_repr(self):
        return f"Split: {self.split} ({'Train' if self.train else 'Test'})"
