"""ranvier.backends.cpu: switches for how the CPU backend computes.

``ranvier.backends.cpu.fuse_patterns`` (default True) -- whether ``nn.Sequential`` runs the
module patterns that have fused CPU kernels (Conv2d -> ReLU -> MaxPool2d(2) of 3x3 convs; see
Note [Fused patterns] in ranvier/nn/modules/_fusion.py) as one op. The results and gradients
are the same bits either way; False runs every module on its own.

``get_cpu_capability()`` -- the SIMD level the CPU kernels use: "AVX512", "AVX2" or "DEFAULT"
(PyTorch's names). It is the widest the CPU supports unless the environment variable
``RANVIER_CPU_CAPABILITY`` ("avx512", "avx2" or "default", read once when ranvier loads) names a
lower one, which runs the narrower kernel copies on a wider machine (for tests and
comparisons).
"""

fuse_patterns = True


def get_cpu_capability():
    """The SIMD level of the CPU kernels in use: "AVX512", "AVX2" or "DEFAULT"."""
    from ranvier import _C
    return _C._cpu_capability()
