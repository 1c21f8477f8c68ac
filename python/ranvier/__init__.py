"""ranvier: tensors, reverse-mode autodiff and neural-network layers with a PyTorch-style API."""
import os as _os

from ranvier import _C
from ranvier._C import Tensor, dtype, device, from_numpy, get_num_threads, set_num_threads
from ranvier._size import Size
from ranvier._dtypes import (float32, float64, float16, bfloat16, int64, int32, uint8, bool,
                             float, double, half, long, int)
from ranvier._factories import (tensor, as_tensor, empty, zeros, ones, full, arange, linspace,
                                eye, empty_like, zeros_like, ones_like, full_like)
from ranvier._random import (Generator, default_generator, manual_seed, seed, initial_seed,
                             get_rng_state, set_rng_state, rand, randn, randint, randperm,
                             rand_like, randn_like, randint_like)
from ranvier._functions import *  # noqa: F401,F403  (ops bound in C++: add, mul, sum, ...)
from ranvier.autograd.grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,
                                        is_grad_enabled)
from ranvier import autograd
from ranvier import nn  # noqa: F401
from ranvier import optim  # noqa: F401
from ranvier import _tensor  # noqa: F401  (adds the Python-side Tensor methods)
from ranvier import serialization
from ranvier import cpu  # noqa: F401
from ranvier import cuda  # noqa: F401  (loads libranvier_cuda when installed)
from ranvier.serialization import save, load
from ranvier import amp  # noqa: F401  (mixed precision: autocast regions, GradScaler)
from ranvier.amp.autocast_mode import (autocast, is_autocast_enabled, get_autocast_dtype,  # noqa
                                       set_autocast_enabled, set_autocast_dtype,
                                       is_autocast_cache_enabled, set_autocast_cache_enabled,
                                       clear_autocast_cache)
from ranvier.amp import _deprecated as _amp_deprecated  # noqa: F401  (ranvier.cpu/cuda.amp)
amp._policies.install()  # the autocast hooks on the listed ops (ranvier/amp/_policies.py)
from ranvier import backends  # noqa: F401
from ranvier.backends import set_float32_matmul_precision, get_float32_matmul_precision

__version__ = "0.1.0"

#: The folder to put on CMAKE_PREFIX_PATH so that CMake's find_package(ranvier) finds this
#: install (also printed by ``python -m ranvier --cmake-prefix-path``).
#: (Located next to the compiled extension, which is where the install put lib/ and include/.)
cmake_prefix_path = _os.path.join(_os.path.dirname(_C.__file__), "lib", "cmake")


def __getattr__(name):
    # ranvier.data / ranvier.utils are imported on first use (keeps `import ranvier` fast).
    if name in ("data", "utils"):
        import importlib
        return importlib.import_module(f"ranvier.{name}")
    raise AttributeError(f"module 'ranvier' has no attribute {name!r}")
