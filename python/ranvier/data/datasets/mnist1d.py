"""MNIST-1D (Greydanus & Steinbach, "Scaling Down Deep Learning with MNIST-1D"), generated
offline: ten hand-designed 12-point templates, each sample randomly padded, stretched,
scaled, translated (circularly), filled with correlated (Gaussian-filtered) noise where the
signal is zero, given iid noise and a random linear shear, then resampled to 40 points. The
default arguments are the published ones (5000 samples, 4000 train / 1000 test, seed 42). Our
generator draws from NumPy's PCG64, so the samples follow the published recipe but are not
bit-identical to the published pickle. The arrays are cached as an .npz under root."""
import hashlib
import json
import os

import ranvier
from ranvier.data.dataset import Dataset

__all__ = ["MNIST1D", "mnist1d_default_args", "make_mnist1d", "mnist1d_templates"]

# The ten templates of the paper (one per digit), 12 samples each.
_TEMPLATES = [
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
]


def mnist1d_default_args():
    """The published default generation arguments."""
    return {"num_samples": 5000, "train_split": 0.8, "template_len": 12, "padding": (36, 60),
            "scale_coeff": 0.4, "max_translation": 48, "corr_noise_scale": 0.25,
            "iid_noise_scale": 2e-2, "shear_scale": 0.75, "shuffle_seq": False,
            "final_seq_length": 40, "seed": 42}


def mnist1d_templates():
    """(10, 12) float64: each template standardised, shifted to start at 0, divided by 6."""
    import numpy as np
    x = np.asarray(_TEMPLATES, dtype=np.float64)
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    x = x - x[:, :1]
    return x / 6.0


def _resample_rows(x, lengths, n):
    """Row r of x holds lengths[r] samples uniformly spaced on [0, 1] (zeros after them);
    returns their linear resampling at n uniformly spaced points, shape (rows, n)."""
    import numpy as np
    rows = np.arange(len(x))[:, None]
    pos = np.linspace(0.0, 1.0, n)[None, :] * (lengths[:, None] - 1)
    i0 = np.minimum(np.floor(pos).astype(np.int64), lengths[:, None] - 2)
    frac = pos - i0
    return x[rows, i0] * (1.0 - frac) + x[rows, i0 + 1] * frac


def _smooth_rows(x, sigma=2.0):
    """Gaussian filter of each row (kernel radius 4 sigma), mirrored at the edges."""
    import numpy as np
    r = int(4.0 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, ((0, 0), (r, r)), mode="symmetric")
    n = x.shape[1]
    return sum(k[j] * padded[:, j:j + n] for j in range(2 * r + 1))


def _make_samples(templates, a, rng, eps=1e-8):
    """One transformed sample per row of `templates` (rows, template_len), vectorised."""
    import numpy as np
    m, tl = templates.shape
    lo, hi = a["padding"]
    pad = lo + (rng.random(m) * (hi - lo + 1)).astype(np.int64)
    lengths = tl + pad
    x = np.zeros((m, tl + hi + 1))
    x[:, :tl] = templates + eps
    n = tl + hi  # every sample is stretched to this fixed length
    x = _resample_rows(x, lengths, n)
    x = x * (1.0 + a["scale_coeff"] * (rng.random(m) - 0.5))[:, None]
    k = rng.integers(0, a["max_translation"], m)
    x = x[np.arange(m)[:, None], (np.arange(n)[None, :] - k[:, None]) % n]  # circular shift
    noise = _smooth_rows(a["corr_noise_scale"] * rng.standard_normal((m, n)))
    x = np.where(x != 0, x, noise)
    x = x + a["iid_noise_scale"] * rng.standard_normal((m, n))
    coeff = a["shear_scale"] * (rng.random(m) - 0.5)
    x = x - coeff[:, None] * np.linspace(-0.5, 0.5, n)[None, :]
    return _resample_rows(x, np.full(m, n), a["final_seq_length"])


def make_mnist1d(**overrides):
    """The full dataset as a dict of NumPy arrays x, y, x_test, y_test (x float32, y int64)."""
    import numpy as np
    a = mnist1d_default_args()
    unknown = set(overrides) - set(a)
    if unknown:
        raise TypeError(f"make_mnist1d: unknown arguments {sorted(unknown)}")
    a.update(overrides)
    rng = np.random.default_rng(a["seed"])
    templates = mnist1d_templates()
    per_class = a["num_samples"] // len(templates)
    labels = np.repeat(np.arange(len(templates), dtype=np.int64), per_class)
    x = _make_samples(templates[labels], a, rng)
    order = rng.permutation(len(labels))
    x, y = x[order], labels[order]
    if a["shuffle_seq"]:
        x = x[:, rng.permutation(a["final_seq_length"])]
    x = (x - x.mean()) / x.std()
    split = int(len(y) * a["train_split"])
    return {"x": x[:split].astype(np.float32), "y": y[:split],
            "x_test": x[split:].astype(np.float32), "y_test": y[split:]}


class MNIST1D(Dataset):
    """MNIST-1D: items are (x, label) with x a float32 tensor of shape (40,) (or what
    `transform` makes of the NumPy row), label an int. `.data` (N x 40 float32 tensor) and
    `.targets` (int64 tensor). Generated on first use and cached in root/MNIST1D/."""

    classes = [str(i) for i in range(10)]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False, **generation_args):
        import numpy as np
        self.root = os.path.expanduser(str(root))
        self.train, self.transform, self.target_transform = train, transform, target_transform
        args = mnist1d_default_args()
        unknown = set(generation_args) - set(args)
        if unknown:
            raise TypeError(f"MNIST1D: unknown generation arguments {sorted(unknown)}")
        args.update(generation_args)
        tag = hashlib.sha1(json.dumps(args, sort_keys=True, default=list).encode()).hexdigest()
        folder = os.path.join(self.root, "MNIST1D")
        self.cache_file = os.path.join(folder, f"mnist1d_{tag[:12]}.npz")
        arrays = None
        if os.path.isfile(self.cache_file):
            try:
                with np.load(self.cache_file, allow_pickle=False) as z:
                    arrays = {k: z[k] for k in ("x", "y", "x_test", "y_test")}
            except Exception as e:
                raise RuntimeError(f"corrupted MNIST1D cache file {self.cache_file}: {e} "
                                   "(delete it to regenerate)") from e
        if arrays is None:
            arrays = make_mnist1d(**generation_args)
            os.makedirs(folder, exist_ok=True)
            tmp = self.cache_file + ".tmp.npz"
            np.savez(tmp, **arrays)
            os.replace(tmp, self.cache_file)
        x = arrays["x"] if train else arrays["x_test"]
        y = arrays["y"] if train else arrays["y_test"]
        self._x = np.ascontiguousarray(x, dtype=np.float32)
        self._y = np.ascontiguousarray(y, dtype=np.int64)
        self.data = ranvier.from_numpy(self._x)
        self.targets = ranvier.from_numpy(self._y)

    def __len__(self):
        return len(self._y)

    def __getitem__(self, index):
        x, y = self._x[index], int(self._y[index])
        x = self.transform(x) if self.transform is not None else ranvier.from_numpy(x.copy())
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y
