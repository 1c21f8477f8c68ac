"""ranvier next to PyTorch in one process: its C++ exceptions still reach Python as the right
exception types, whichever library is imported first. (A libranvier linked against a static
libstdc++ crashed on every exception once PyTorch, with the shared one, was imported first.)"""
import subprocess
import sys

import pytest

import ranvier


SCRIPT = """
import {first}, {second}
import ranvier
for make, kind in ((lambda: ranvier.zeros(2, 3) + ranvier.zeros(4), RuntimeError),
                   (lambda: ranvier.zeros(3).size(5), IndexError),
                   (lambda: ranvier.zeros(2).item(), RuntimeError)):
    try:
        make()
    except kind as e:
        print(type(e).__name__)
    else:
        raise SystemExit("no error raised")
"""


@pytest.mark.parametrize("first,second", [("torch", "ranvier"), ("ranvier", "torch")])
def test_errors_with_torch_imported(first, second):
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, "-c", SCRIPT.format(first=first, second=second)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["RuntimeError", "IndexError", "RuntimeError"]
