"""ranvier.data.datasets: the IDX reader and MNIST-family classes on files written here,
Fashion-MNIST from Debian's package (skipped when absent), CIFAR pickle/binary batches with
the restricted unpickler, MNIST1D (shape, determinism, class balance, linear baseline), the
text datasets, and clear errors for missing / truncated / corrupted files."""
import gzip
import os
import pickle
import struct

import numpy as np
import pytest

import ranvier
from ranvier.data import DataLoader
from ranvier.data import transforms as T
from ranvier.data.datasets import (CIFAR10, CIFAR100, EMNIST, MNIST, MNIST1D, CharCorpus,
                                   FashionMNIST, KMNIST, TextFile)
from ranvier.data.datasets.utils import read_idx
from helpers import assert_close, to_np


def write_idx(path, arr, gz=False, type_code=0x08):
    arr = np.asarray(arr)
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    head = bytes([0, 0, type_code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    data = head + arr.astype(dt[type_code]).tobytes()
    if gz:
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)
    return path


def make_mnist_files(folder, n=7, prefix=("train", "t10k"), gz=True, seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for p in prefix:
        imgs = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        ext = ".gz" if gz else ""
        write_idx(os.path.join(folder, f"{p}-images-idx3-ubyte{ext}"), imgs, gz)
        write_idx(os.path.join(folder, f"{p}-labels-idx1-ubyte{ext}"), labels, gz)
        out[p] = (imgs, labels)
    return out


@pytest.mark.parametrize("code,npdt", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                       (0x0C, np.int32), (0x0D, np.float32),
                                       (0x0E, np.float64)])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_types(tmp_path, code, npdt, gz):
    a = (np.arange(24).reshape(2, 3, 4) - (0 if npdt == np.uint8 else 5)).astype(npdt)
    p = write_idx(str(tmp_path / "x.idx"), a, gz=gz, type_code=code)
    r = read_idx(p)
    assert r.dtype == np.dtype(npdt) and r.shape == (2, 3, 4)
    np.testing.assert_array_equal(r, a)


def test_read_idx_errors(tmp_path):
    a = np.arange(20, dtype=np.uint8).reshape(4, 5)
    p = write_idx(str(tmp_path / "ok"), a)
    raw = open(p, "rb").read()
    bad = tmp_path / "trunc"
    bad.write_bytes(raw[:-3])
    with pytest.raises(RuntimeError, match="trunc.*truncated IDX file"):
        read_idx(str(bad))
    bad.write_bytes(raw[:6])
    with pytest.raises(RuntimeError, match="truncated IDX header"):
        read_idx(str(bad))
    magic = tmp_path / "magic"
    magic.write_bytes(b"\x01\x02" + raw[2:])
    with pytest.raises(RuntimeError, match="magic.*not an IDX file"):
        read_idx(str(magic))
    badgz = tmp_path / "bad.gz"
    badgz.write_bytes(gzip.compress(raw)[:-10])
    with pytest.raises(RuntimeError, match="bad.gz"):
        read_idx(str(badgz))
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"\x1f\x8b" + b"not gzip at all")
    with pytest.raises(RuntimeError, match="corrupted gzip.*junk.gz"):
        read_idx(str(junk))
    extra = tmp_path / "extra"
    extra.write_bytes(raw + b"xx")
    with pytest.raises(RuntimeError, match="trailing"):
        read_idx(str(extra))


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST, KMNIST])
@pytest.mark.parametrize("layout", ["raw", "flat", "flat-plain"])
def test_mnist_family_from_written_files(tmp_path, cls, layout):
    if layout == "raw":
        files = make_mnist_files(str(tmp_path / cls.__name__ / "raw"))
    else:
        files = make_mnist_files(str(tmp_path), gz=(layout == "flat"))
    for train, key in ((True, "train"), (False, "t10k")):
        ds = cls(str(tmp_path), train=train)
        imgs, labels = files[key]
        assert len(ds) == 7
        assert ds.data.dtype == ranvier.uint8 and tuple(ds.data.shape) == (7, 28, 28)
        assert ds.targets.dtype == ranvier.int64
        assert_close(ds.data, imgs)
        assert_close(ds.targets, labels.astype(np.int64))
        x, y = ds[3]
        assert y == int(labels[3]) and isinstance(y, int)
        assert_close(x, imgs[3][None].astype(np.float32) / 255)
    ds = cls(str(tmp_path), transform=lambda a: a, target_transform=lambda y: y + 100)
    x, y = ds[0]
    assert isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.shape == (28, 28)
    assert y == int(files["train"][1][0]) + 100
    ds = cls(str(tmp_path), transform=T.ToTensor())
    assert_close(ds[1][0], files["train"][0][1][None].astype(np.float32) / 255)
    b = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(b[0].shape) == (4, 1, 28, 28) and b[1].dtype == ranvier.int64


def test_mnist_missing_files_message(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match=r"train-images-idx3-ubyte.*MNIST.raw.*download=True"):
        MNIST(str(tmp_path))
    # download without network access (a mirror nothing listens on)
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(RuntimeError, match=r"could not download train-images.*put the files"):
        MNIST(str(tmp_path), download=True)


def test_mnist_truncated_and_mismatched(tmp_path):
    files = make_mnist_files(str(tmp_path))
    p = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(p.read_bytes())
    p.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(RuntimeError, match="train-images-idx3-ubyte.gz: truncated"):
        MNIST(str(tmp_path))
    write_idx(str(p), files["train"][0][:5], gz=True)
    with pytest.raises(RuntimeError, match="image / label"):
        MNIST(str(tmp_path))


@pytest.fixture
def http_dir(tmp_path):
    """(folder, base url): a local HTTP server serving the folder."""
    import http.server
    import threading
    srv_dir = tmp_path / "srv"
    srv_dir.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(srv_dir), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield srv_dir, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_emnist_download_extracts_the_zip(tmp_path, monkeypatch, http_dir):
    import hashlib
    import zipfile
    srv_dir, url = http_dir
    imgs = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    write_idx(str(tmp_path / "i.gz"), imgs, gz=True)
    write_idx(str(tmp_path / "l.gz"), np.array([3, 4]), gz=True)
    with zipfile.ZipFile(srv_dir / "gzip.zip", "w") as z:
        z.write(tmp_path / "i.gz", "gzip/emnist-digits-train-images-idx3-ubyte.gz")
        z.write(tmp_path / "l.gz", "gzip/emnist-digits-train-labels-idx1-ubyte.gz")
    monkeypatch.setattr(EMNIST, "url", url + "gzip.zip")
    monkeypatch.setattr(EMNIST, "md5", hashlib.md5((srv_dir / "gzip.zip").read_bytes())
                        .hexdigest())
    ds = EMNIST(str(tmp_path / "root"), split="digits", download=True)
    assert_close(ds.data, imgs.astype(np.uint8))
    assert ds.targets.tolist() == [3, 4]


def test_download_with_progress_and_md5(tmp_path, monkeypatch, capsys, http_dir):
    """download=True against a local HTTP server: files arrive, md5 is checked, and a wrong
    checksum is refused."""
    import hashlib
    srv_dir, url = http_dir
    files = make_mnist_files(str(srv_dir))
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    md5 = {n: hashlib.md5((srv_dir / n).read_bytes()).hexdigest() for n in names}
    monkeypatch.setattr(KMNIST, "mirrors", ["http://127.0.0.1:9/", url])
    monkeypatch.setattr(KMNIST, "resources", [(n, md5[n]) for n in names])
    ds = KMNIST(str(tmp_path / "root"), download=True)
    assert_close(ds.data, files["train"][0])
    assert "100.0%" in capsys.readouterr().err
    monkeypatch.setattr(KMNIST, "resources", [(n, "0" * 32) for n in names])
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        KMNIST(str(tmp_path / "root2"), download=True)
    assert not os.listdir(tmp_path / "root2" / "KMNIST" / "raw")  # nothing half-written


def test_emnist_split(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    write_idx(str(raw / "emnist-letters-train-images-idx3-ubyte.gz"), imgs, gz=True)
    write_idx(str(raw / "emnist-letters-train-labels-idx1-ubyte.gz"), np.arange(1, 6), gz=True)
    ds = EMNIST(str(tmp_path), split="letters")
    assert_close(ds.data, imgs)
    assert ds.targets.tolist() == [1, 2, 3, 4, 5] and ds.classes[1] == "a"
    with pytest.raises(ValueError, match="unknown split"):
        EMNIST(str(tmp_path), split="nope")
    with pytest.raises(RuntimeError, match="emnist-letters-test-images"):
        EMNIST(str(tmp_path), split="letters", train=False)


FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.isfile(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian_package(tmp_path):
    ds = FashionMNIST(str(tmp_path), train=False)
    assert len(ds) == 10000 and tuple(ds.data.shape) == (10000, 28, 28)
    counts = np.bincount(to_np(ds.targets), minlength=10)
    np.testing.assert_array_equal(counts, np.full(10, 1000))  # balanced test set
    x, y = ds[0]
    assert tuple(x.shape) == (1, 28, 28) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert ds.classes[y] == "Ankle boot"  # the first test image is an ankle boot


def _cifar_batch(n, rng, fine=False):
    data = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    labels = rng.integers(0, 100 if fine else 10, n).tolist()
    d = {b"data": data, b"batch_label": b"testing"}
    if fine:
        d[b"fine_labels"] = labels
        d[b"coarse_labels"] = [x // 5 for x in labels]
    else:
        d[b"labels"] = labels
    return d, data, labels


def test_cifar10_pickle_and_binary(tmp_path):
    rng = np.random.default_rng(0)
    py = tmp_path / "py" / "cifar-10-batches-py"
    py.mkdir(parents=True)
    all_data, all_labels = [], []
    for name in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]:
        d, data, labels = _cifar_batch(3, rng)
        with open(py / name, "wb") as f:
            pickle.dump(d, f, protocol=2)
        all_data.append(data)
        all_labels.append(labels)
    ds = CIFAR10(str(tmp_path / "py"))
    ref = np.concatenate(all_data[:5]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert len(ds) == 15 and ds.data.shape == (15, 32, 32, 3)
    np.testing.assert_array_equal(ds.data, ref)
    assert ds.targets == sum(all_labels[:5], [])
    x, y = ds[4]
    assert_close(x, ref[4].transpose(2, 0, 1).astype(np.float32) / 255)
    test = CIFAR10(str(tmp_path / "py"), train=False, transform=T.ToTensor())
    assert len(test) == 3 and tuple(test[0][0].shape) == (3, 32, 32)
    # binary batches: 1 label byte + 3072 pixel bytes per record
    binf = tmp_path / "bin" / "cifar-10-batches-bin"
    binf.mkdir(parents=True)
    for i, name in enumerate(["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]):
        rec = np.concatenate([np.array(all_labels[i], np.uint8)[:, None], all_data[i]], 1)
        rec.tofile(str(binf / (name + ".bin")))
    dsb = CIFAR10(str(tmp_path / "bin"))
    np.testing.assert_array_equal(dsb.data, ref)
    assert dsb.targets == ds.targets
    with open(binf / "test_batch.bin", "ab") as f:
        f.write(b"\x00" * 10)
    with pytest.raises(RuntimeError, match="test_batch.bin: truncated"):
        CIFAR10(str(tmp_path / "bin"), train=False)


def test_cifar100(tmp_path):
    rng = np.random.default_rng(1)
    py = tmp_path / "cifar-100-python"
    py.mkdir()
    for name in ("train", "test"):
        d, data, labels = _cifar_batch(4, rng, fine=True)
        with open(py / name, "wb") as f:
            pickle.dump(d, f)
    with open(py / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [b"c%d" % i for i in range(100)]}, f)
    ds = CIFAR100(str(tmp_path), train=False)
    assert ds.targets == labels and ds.classes[7] == "c7"
    np.testing.assert_array_equal(ds.data, data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_pickle_safety_and_corruption(tmp_path):
    py = tmp_path / "cifar-10-batches-py"
    py.mkdir()
    with open(py / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f)
    with pytest.raises(RuntimeError, match=r"test_batch.*not allowed"):
        CIFAR10(str(tmp_path), train=False)
    (py / "test_batch").write_bytes(b"\x80\x02}q\x00(X")
    with pytest.raises(RuntimeError, match="corrupted or unsafe pickle file.*test_batch"):
        CIFAR10(str(tmp_path), train=False)
    with open(py / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 5), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(RuntimeError, match="N x 3072"):
        CIFAR10(str(tmp_path), train=False)
    with pytest.raises(RuntimeError, match="not found.*data_batch_1"):
        CIFAR10(str(tmp_path / "empty"))


@pytest.fixture(scope="module")
def mnist1d_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("mnist1d"))


def test_mnist1d_shapes_balance_and_cache(mnist1d_root):
    tr = MNIST1D(mnist1d_root)
    te = MNIST1D(mnist1d_root, train=False)
    assert len(tr) == 4000 and len(te) == 1000
    assert tuple(tr.data.shape) == (4000, 40) and tr.data.dtype == ranvier.float32
    counts = np.bincount(to_np(tr.targets), minlength=10) + \
        np.bincount(to_np(te.targets), minlength=10)
    np.testing.assert_array_equal(counts, np.full(10, 500))
    assert 300 <= np.bincount(to_np(tr.targets)).min()
    allx = np.concatenate([to_np(tr.data), to_np(te.data)])
    assert abs(allx.mean()) < 1e-4 and abs(allx.std() - 1) < 1e-3  # standardised
    cached = os.listdir(os.path.join(mnist1d_root, "MNIST1D"))
    assert len(cached) == 1 and cached[0].endswith(".npz")
    again = MNIST1D(mnist1d_root)  # from the cache
    assert_close(again.data, to_np(tr.data))
    x, y = tr[0]
    assert tuple(x.shape) == (40,) and y == int(tr.targets[0])


def test_mnist1d_determinism_and_args(tmp_path):
    from ranvier.data.datasets.mnist1d import make_mnist1d
    a = make_mnist1d(num_samples=200)
    b = make_mnist1d(num_samples=200)
    np.testing.assert_array_equal(a["x"], b["x"])
    assert a["x"].shape == (160, 40) and a["x_test"].shape == (40, 40)
    c = make_mnist1d(num_samples=200, seed=1)
    assert not np.array_equal(a["x"], c["x"])
    with pytest.raises(TypeError, match="unknown"):
        make_mnist1d(colour=3)
    bad = tmp_path / "MNIST1D"
    bad.mkdir()
    ds = MNIST1D(str(tmp_path), num_samples=100)
    with open(ds.cache_file, "wb") as f:
        f.write(b"garbage")
    with pytest.raises(RuntimeError, match="corrupted MNIST1D cache file"):
        MNIST1D(str(tmp_path), num_samples=100)


def test_mnist1d_linear_baseline_matches_published(mnist1d_root):
    """Softmax regression (NumPy, 100 steps of gradient descent with momentum) reaches about
    the published linear figure (~0.32): well above chance (0.1), well below the CNN (0.94).
    (einsum rather than @ keeps NumPy's BLAS threads out of it: fast on a busy machine.)"""
    tr, te = MNIST1D(mnist1d_root), MNIST1D(mnist1d_root, train=False)
    X = np.c_[to_np(tr.data), np.ones(len(tr))].astype(np.float32)
    Xt = np.c_[to_np(te.data), np.ones(len(te))].astype(np.float32)
    y, yt = to_np(tr.targets), to_np(te.targets)
    Y = np.eye(10, dtype=np.float32)[y]
    W = np.zeros((41, 10), np.float32)
    V = np.zeros_like(W)
    for _ in range(100):
        z = np.einsum("ij,jk->ik", X, W)
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        V = 0.9 * V + np.einsum("ij,ik->jk", X, p - Y) / len(X)
        W -= 0.5 * V
    acc = (np.einsum("ij,jk->ik", Xt, W).argmax(1) == yt).mean()
    assert 0.25 <= acc <= 0.45, acc


def test_text_file_char_and_byte(tmp_path):
    text = "hello world, hello ranvier!\n" * 5
    p = tmp_path / "t.txt"
    p.write_text(text)
    ds = TextFile(str(p), seq_len=8, split="train", val_fraction=0.2)
    vocab = sorted(set(text))
    assert ds.vocab == vocab and ds.vocab_size == len(vocab)
    ids = np.array([vocab.index(c) for c in text], dtype=np.int64)
    n_train = len(text) - int(len(text) * 0.2)
    assert len(ds) == (n_train - 9) // 8 + 1
    x, y = ds[2]
    assert x.dtype == ranvier.int64 and tuple(x.shape) == (8,)
    np.testing.assert_array_equal(to_np(x), ids[16:24])
    np.testing.assert_array_equal(to_np(y), ids[17:25])
    assert ds.decode(x) == text[16:24]
    assert ds.decode(ds.encode("world")) == "world"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        ds.encode("Z")
    with pytest.raises(IndexError):
        ds[len(ds)]
    val = TextFile(str(p), seq_len=8, split="val", val_fraction=0.2)
    np.testing.assert_array_equal(to_np(val[0][0]), ids[n_train:n_train + 8])
    byte = TextFile(str(p), seq_len=4, level="byte", stride=2, val_fraction=0.0)
    assert byte.vocab_size == 256 and len(byte) == (len(text) - 5) // 2 + 1
    np.testing.assert_array_equal(to_np(byte[1][0]), np.frombuffer(text.encode()[2:6],
                                                                    np.uint8))
    assert byte.decode(byte.encode("é!")) == "é!"
    cc = CharCorpus(str(p), seq_len=5)
    assert cc.level == "char"
    b = next(iter(DataLoader(cc, batch_size=3, shuffle=True)))
    assert tuple(b[0].shape) == (3, 5) and tuple(b[1].shape) == (3, 5)


def test_text_file_errors(tmp_path):
    p = tmp_path / "short.txt"
    p.write_text("abc")
    with pytest.raises(ValueError, match="fewer than seq_len"):
        TextFile(str(p), seq_len=8)
    with pytest.raises(RuntimeError, match="cannot read.*missing.txt"):
        TextFile(str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfa" * 20)
    with pytest.raises(RuntimeError, match="bad.txt is not valid utf-8"):
        TextFile(str(bad), seq_len=4)
    with pytest.raises(ValueError, match="split"):
        TextFile(str(p), split="test")


def test_cifar10_download_extracts_the_archive(tmp_path, monkeypatch, http_dir):
    import hashlib
    import tarfile
    srv_dir, url = http_dir
    rng = np.random.default_rng(3)
    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    for name in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]:
        with open(src / name, "wb") as f:
            pickle.dump(_cifar_batch(2, rng)[0], f)
    evil = tmp_path / "evil"
    evil.write_bytes(b"x")
    with tarfile.open(srv_dir / "c.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
        tar.add(evil, arcname="../escaped")  # must not be written outside root
    monkeypatch.setattr(CIFAR10, "url", url + "c.tar.gz")
    monkeypatch.setattr(CIFAR10, "tgz_md5",
                        hashlib.md5((srv_dir / "c.tar.gz").read_bytes()).hexdigest())
    root = tmp_path / "root"
    ds = CIFAR10(str(root), train=False, download=True)
    assert len(ds) == 2 and ds.data.shape == (2, 32, 32, 3)
    assert not (tmp_path / "escaped").exists()
    monkeypatch.setattr(CIFAR10, "url", "http://127.0.0.1:9/c.tar.gz")
    with pytest.raises(RuntimeError, match="could not download.*extract"):
        CIFAR10(str(tmp_path / "root3"), download=True)
