"""Atomic saves: a save that fails part-way (file-size limit hit while writing, a failing file
object, an unsavable object) or a process killed during a save leaves the previous checkpoint
readable and unchanged."""
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import ranvier
from helpers import to_np

OLD = {"version": "old", "w": ranvier.arange(5, dtype=ranvier.float32)}


def check_old(path):
    out = ranvier.load(path)
    assert out["version"] == "old"
    np.testing.assert_array_equal(to_np(out["w"]), np.arange(5, dtype=np.float32))


def run_python(code, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_write_failing_midway_keeps_old_file(tmp_path):
    """A file-size limit makes write() fail with EFBIG after 1 MB of an 8 MB checkpoint."""
    path = tmp_path / "ck.safetensors"
    ranvier.save(OLD, path)
    proc = run_python(f"""
        import resource, signal, ranvier
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))
        try:
            ranvier.save({{"version": "new", "w": ranvier.zeros(2 << 20)}}, {str(path)!r})
        except OSError as e:
            print("OSError", e.errno, e.filename)
        """)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    lines = [ln for ln in out.splitlines() if ln.startswith("OSError")]
    assert lines == ["OSError 27 " + str(path)], out  # EFBIG, with the target named
    check_old(path)
    assert os.listdir(tmp_path) == ["ck.safetensors"]  # the temporary file was removed


def test_failing_file_object_propagates(tmp_path):
    class Broken(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        ranvier.save({"w": ranvier.ones(3)}, Broken())


def test_unsavable_object_leaves_old_file_untouched(tmp_path):
    path = tmp_path / "ck"
    ranvier.save(OLD, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="object at obj\\['late'\\]"):
        ranvier.save({"version": "new", "w": ranvier.zeros(10), "late": object()}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck"]


def test_unwritable_folder_keeps_old_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions")
    path = tmp_path / "ck"
    ranvier.save(OLD, path)
    os.chmod(tmp_path, 0o500)
    try:
        with pytest.raises(PermissionError):
            ranvier.save({"version": "new", "w": ranvier.zeros(1)}, path)
    finally:
        os.chmod(tmp_path, 0o700)
    check_old(path)


def test_killed_during_save_keeps_old_file(tmp_path):
    """SIGKILL a process while it writes a 256 MB checkpoint over an old one."""
    path = tmp_path / "ck.safetensors"
    ranvier.save(OLD, path)
    proc = run_python(f"""
        import ranvier
        big = ranvier.ones(64 << 20)
        print("ready", flush=True)
        while True:
            ranvier.save({{"version": "new", "w": big}}, {str(path)!r})
        """)
    try:
        while True:  # (an editable install may print its rebuild first)
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            if line.strip() == "ready":
                break
        deadline = time.time() + 60
        while time.time() < deadline:
            tmps = [n for n in os.listdir(tmp_path) if n.startswith(".ck.safetensors.tmp")]
            if tmps and os.path.getsize(tmp_path / tmps[0]) > (1 << 20):
                break  # caught it mid-write
            time.sleep(0.001)
        else:
            pytest.fail("never saw the temporary file being written")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    out = ranvier.load(path)  # the old file, or (if a save completed first) a whole new one
    if out["version"] == "old":
        check_old(path)
    else:
        assert out["version"] == "new" and tuple(out["w"].shape) == (64 << 20,)
        assert float(out["w"].sum()) == float(64 << 20)
    for name in os.listdir(tmp_path):  # the killed save's temporary file (256 MB)
        if name.startswith(".ck.safetensors.tmp"):
            os.unlink(tmp_path / name)


def test_overwrite_keeps_permission_bits(tmp_path):
    path = tmp_path / "ck"
    ranvier.save(OLD, path)
    os.chmod(path, 0o640)
    ranvier.save({"version": "new"}, path)
    assert (os.stat(path).st_mode & 0o777) == 0o640
    assert ranvier.load(path) == {"version": "new"}
    umask = os.umask(0o022)
    os.umask(umask)
    ranvier.save(OLD, tmp_path / "fresh")
    assert (os.stat(tmp_path / "fresh").st_mode & 0o777) == 0o666 & ~umask
