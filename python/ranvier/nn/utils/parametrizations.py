"""nn.utils.parametrizations: weight_norm, spectral_norm and orthogonal as parametrisations (see
parametrize.py). weight_norm stores g and v as parametrizations.<name>.original0 / original1;
spectral_norm stores the weight as parametrizations.<name>.original and its power-iteration
vectors as the buffers parametrizations.<name>.0._u / _v (15 warm-up iterations at
registration, n_power_iterations more per training-mode evaluation); orthogonal stores the
orthogonalised initial weight as the buffer parametrizations.<name>.0.base and maps the original
(initially -I) through a matrix exponential or a Householder product."""
import ranvier
from ranvier.nn.modules.module import Module
from ranvier.nn.utils import parametrize
from ranvier.nn.utils._norm_helpers import (norm_except_dim, normalize, resolve_dim,
                                            weight_norm_apply)

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


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


# -- orthogonal ---------------------------------------------------------------------------------
def _matrix_exp(a):
    """exp(a) for a square matrix, by scaling and squaring a degree-18 Taylor series (written
    with differentiable ops)."""
    import math
    with ranvier.no_grad():
        norm = float(a.abs().sum(0).max()) if a.numel() else 0.0
    s = max(0, int(math.ceil(math.log2(norm))) + 1) if norm > 0 else 0
    b = a / (2.0 ** s)
    eye = ranvier.eye(a.shape[0], dtype=a.dtype)
    term, out = eye, eye
    for i in range(1, 19):
        term = (term @ b) / float(i)
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


def _householder_product(a, tau):
    """(H_1 ... H_k)[:, :k], H_i = I - tau_i v_i v_i^T, v_i = e_i + a[:, i], a strictly lower."""
    n, k = a.shape
    eye = ranvier.eye(n, dtype=a.dtype)
    q = eye
    for i in range(k):
        v = a[:, i] + eye[:, i]
        q = q - tau[i] * (q @ v).unsqueeze(1) * v.unsqueeze(0)
    return q[:, :k]


def _make_orthogonal(a):
    """The Q of a = QR with R's diagonal made positive (NumPy QR; no gradient needed)."""
    import numpy as np
    x = a.detach().numpy()
    q, r = np.linalg.qr(x)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)[None, :]
    return ranvier.from_numpy(np.ascontiguousarray(q, dtype=x.dtype)).clone()


class _Orthogonal(Module):
    def __init__(self, weight, orthogonal_map, use_trivialization=True):
        super().__init__()
        if orthogonal_map not in ("matrix_exp", "householder"):
            raise NotImplementedError("orthogonal: orthogonal_map='%s' is not supported (use "
                                      "'matrix_exp' or 'householder')" % orthogonal_map)
        if not use_trivialization:
            raise NotImplementedError("orthogonal: use_trivialization=False is not supported")
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        self.register_buffer("base", None)

    def forward(self, x):
        n, k = x.shape
        transposed = n < k
        if transposed:
            x = x.t()
            n, k = k, n
        if self.orthogonal_map == "matrix_exp":
            x = x.tril()
            if n != k:
                x = ranvier.cat([x, ranvier.zeros(n, n - k, dtype=x.dtype)], 1)
            q = _matrix_exp(x - x.t())[:, :k]
        else:
            a = x.tril(-1)
            tau = 2.0 / (1.0 + (a * a).sum(0))
            diag = (x * ranvier.eye(n, k, dtype=x.dtype)).sum(0)
            q = _householder_product(a, tau) * diag.to(ranvier.int64).to(x.dtype).unsqueeze(0)
        q = self.base @ q
        return q.t() if transposed else q

    def right_inverse(self, q):
        if tuple(q.shape) != self.shape:
            raise ValueError("Expected a matrix or batch of matrices of shape %s. Got a tensor "
                             "of shape %s." % (list(self.shape), list(q.shape)))
        q0 = q
        n, k = q.shape
        if n < k:
            q = q.t()
            n, k = k, n
        if n == k:
            eye = ranvier.eye(k, dtype=q.dtype)
            eps = 10 * n * (2.2e-16 if q.dtype == ranvier.float64 else 1.2e-7)
            if float((q.t() @ q - eye).abs().max()) <= eps:
                q = q.clone()
            else:
                q = _make_orthogonal(q)
        else:
            rest = ranvier.randn(n, n - k, dtype=q.dtype)
            q = _make_orthogonal(ranvier.cat([q, rest], 1))
        self.base = q
        return -ranvier.eye(*q0.shape, dtype=q0.dtype)


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Parametrises the matrix module.<name> as an orthogonal (or semi-orthogonal) matrix:
    base @ map(original), base the orthogonalised initial weight (QR), map the matrix
    exponential of the skew part (square matrices) or a Householder product (others)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, ranvier.Tensor):
        raise ValueError("Module '%s' has no parameter or buffer with name '%s'"
                         % (module, name))
    if weight.dim() != 2:
        raise ValueError("orthogonal: expected a matrix, got a tensor of %d dimensions"
                         % weight.dim())
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[0] == weight.shape[1] else "householder"
    parametrize.register_parametrization(
        module, name, _Orthogonal(weight, orthogonal_map, use_trivialization), unsafe=True)
    return module
