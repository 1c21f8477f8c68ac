"""Helpers shared by the weight/spectral normalisation utilities: the norm of a tensor over every
dim except one, the weight-norm reparametrisation and an eps-guarded vector normalisation."""


def norm_except_dim(v, dim):
    """2-norm of v over every dim but `dim` (keepdim shape); dim == -1: the whole tensor (0-d)."""
    if dim == -1:
        return (v * v).sum().sqrt()
    if dim < 0:
        dim += v.dim()
    dims = [d for d in range(v.dim()) if d != dim]
    if not dims:
        return v.abs()
    return (v * v).sum(dims, keepdim=True).sqrt()


def weight_norm_apply(v, g, dim):
    """v * g / ||v|| (the norm taken as in norm_except_dim)."""
    return v * (g / norm_except_dim(v, dim))


def normalize(x, eps):
    """x / max(||x||, eps) for a 1-D x."""
    return x / (x * x).sum().sqrt().clamp_min(eps)


def resolve_dim(dim, ndim):
    if dim is None:
        return -1
    if dim < -1:
        dim += ndim
    return dim
