"""Shared dataset plumbing: finding files under a root, downloading with a progress bar and an
md5 check, and reading IDX files (the MNIST-family format, gzipped or not) with clear errors
naming the file when it is truncated or corrupted."""
import gzip
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
import zlib

__all__ = ["read_idx", "md5sum", "download_url", "find_file"]

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path):
    """The (decompressed when .gz) content of path; RuntimeError naming the file if it is not
    readable or its compression is broken."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise RuntimeError(f"cannot read dataset file {path}: {e}") from e
    if raw[:2] == b"\x1f\x8b" or str(path).endswith(".gz"):
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise RuntimeError(f"corrupted gzip dataset file {path}: {e} (delete it and put a "
                               "fresh copy in place, or download again)") from e
    return raw


def read_idx(path):
    """A NumPy array (native byte order) from an IDX file: magic 0x00 0x00 <type> <ndim>,
    ndim big-endian uint32 sizes, then the big-endian data."""
    import numpy as np
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise RuntimeError(f"{path} is not an IDX file (bad magic number "
                           f"{data[:4].hex() or 'empty file'})")
    ndim = data[3]
    head = 4 + 4 * ndim
    if ndim == 0 or len(data) < head:
        raise RuntimeError(f"{path}: truncated IDX header (ndim={ndim}, {len(data)} bytes)")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    dt = np.dtype(_IDX_TYPES[data[2]])
    need = dt.itemsize * int(np.prod(dims, dtype=np.int64))
    have = len(data) - head
    if have < need:
        raise RuntimeError(f"{path}: truncated IDX file: shape {dims} needs {need} bytes of data "
                           f"but the file holds {have}")
    if have > need:
        raise RuntimeError(f"{path}: IDX file has {have - need} unexpected trailing bytes "
                           f"after shape {dims}")
    arr = np.frombuffer(data, dtype=dt, count=need // dt.itemsize, offset=head).reshape(dims)
    return arr.astype(dt.newbyteorder("="))


def md5sum(path, chunk=1 << 20):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def find_file(name, folders):
    """The first existing folder/name or folder/name.gz (or name without .gz), else None."""
    base = name[:-3] if name.endswith(".gz") else name
    for folder in folders:
        for cand in (base + ".gz", base):
            p = os.path.join(folder, cand)
            if os.path.isfile(p):
                return p
    return None


def _progress(done, total, name, stream):
    if total:
        frac = done / total
        bar = "#" * int(30 * frac)
        stream.write(f"\r{name}: [{bar:<30}] {frac * 100:5.1f}% ({done >> 10} KiB)")
    else:
        stream.write(f"\r{name}: {done >> 10} KiB")
    stream.flush()


def download_url(url, folder, filename=None, md5=None, timeout=30, progress=True):
    """Downloads url into folder/filename (atomically, via a temporary file) with a progress
    bar on stderr and, when md5 is given, checks the checksum. Returns the path."""
    filename = filename or os.path.basename(url)
    os.makedirs(folder, exist_ok=True)
    dest = os.path.join(folder, filename)
    if os.path.isfile(dest) and (md5 is None or md5sum(dest) == md5):
        return dest
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + filename, suffix=".part")
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "ranvier"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while True:
                block = resp.read(1 << 16)
                if not block:
                    break
                out.write(block)
                done += len(block)
                if progress:
                    _progress(done, total, filename, sys.stderr)
        if progress:
            sys.stderr.write("\n")
        if md5 is not None:
            got = md5sum(tmp)
            if got != md5:
                raise RuntimeError(f"checksum mismatch for {url}: md5 {got}, expected {md5}")
        shutil.move(tmp, dest)
        return dest
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
