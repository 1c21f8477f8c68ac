"""nn.utils.parametrizations: weight_norm and spectral_norm as parametrisations (see
parametrize.py). weight_norm stores g and v as parametrizations.<name>.original0 / original1;
spectral_norm stores the weight as parametrizations.<name>.original and its power-iteration
vectors as the buffers parametrizations.<name>.0._u / _v (15 warm-up iterations at
registration, n_power_iterations more per training-mode evaluation)."""
import ranvier
from ranvier.nn.modules.module import Module
from ranvier.nn.utils import parametrize
from ranvier.nn.utils._norm_helpers import (norm_except_dim, normalize, resolve_dim,
                                            weight_norm_apply)

__all__ = ["weight_norm", "spectral_norm"]


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_norm_apply(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Parametrises module.<name> as g * v / ||v|| (norm over every dim but `dim`)."""
    weight = getattr(module, name)
    parametrize.register_parametrization(module, name,
                                         _WeightNorm(resolve_dim(dim, weight.dim())),
                                         unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of [-%d, %d] but "
                             "got %d)" % (ndim, ndim - 1, dim))
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             "n_power_iterations=%d" % n_power_iterations)
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            mat = self._reshape_weight_to_matrix(weight.detach())
            h, w = mat.shape
            self.register_buffer("_u", normalize(ranvier.empty(h, dtype=mat.dtype).normal_(0, 1),
                                                 eps))
            self.register_buffer("_v", normalize(ranvier.empty(w, dtype=mat.dtype).normal_(0, 1),
                                                 eps))
            self._power_method(mat, 15)

    def _reshape_weight_to_matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.dim()) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def _power_method(self, mat, n):
        with ranvier.no_grad():
            m = mat.detach()
            for _ in range(n):
                self._u.copy_(normalize(m.mv(self._v), self.eps))
                self._v.copy_(normalize(m.t().mv(self._u), self.eps))

    def forward(self, weight):
        if weight.dim() == 1:
            return normalize(weight, self.eps)
        mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(mat, self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = u.dot(mat.mv(v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Parametrises module.<name> as weight / sigma, sigma its spectral norm estimated by power
    iteration. dim: the output dim (default 0; 1 for ConvTranspose)."""
    from ranvier.nn.utils.spectral_norm import _default_dim
    weight = getattr(module, name, None)
    if not isinstance(weight, ranvier.Tensor):
        raise ValueError("Module '%s' has no parameter or buffer with name '%s'"
                         % (module, name))
    if dim is None:
        dim = _default_dim(module)
    parametrize.register_parametrization(module, name,
                                         _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
