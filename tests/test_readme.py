"""The README's Python example runs and computes what it says."""
import os
import re

import numpy as np


def test_readme_example_runs():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    env = {}
    exec(compile(block, "README.md", "exec"), env)
    t, g, h = env["t"], env["g"], env["h"]
    np.testing.assert_allclose(g.detach().numpy(), 3 * t.detach().numpy() ** 2)
    np.testing.assert_allclose(h.numpy(), 6 * t.detach().numpy())
    assert env["w"].grad is None  # the SGD step cleared it
