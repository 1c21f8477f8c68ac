"""ranvier.backends.cpu: switches for how the CPU backend computes.

``ranvier.backends.cpu.fuse_patterns`` (default True) -- whether ``nn.Sequential`` runs the
module patterns that have fused CPU kernels (Conv2d -> ReLU -> MaxPool2d(2) of 3x3 convs; see
Note [Fused patterns] in ranvier/nn/modules/_fusion.py) as one op. The results and gradients
are the same bits either way; False runs every module on its own.
"""

fuse_patterns = True
