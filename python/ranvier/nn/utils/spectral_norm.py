"""spectral_norm / remove_spectral_norm in the forward-pre-hook form: the parameter `name`
becomes name_orig, buffers name_u / name_v hold the power-iteration vectors, and a forward
pre-hook sets name = name_orig / sigma with sigma = u . (W v), W the weight seen as a matrix
[size(dim), -1]. In training mode each forward first runs n_power_iterations steps
v <- normalize(W^T u), u <- normalize(W v) (in place on the buffers, without gradient)."""
import ranvier
from ranvier.nn.parameter import Parameter, UninitializedParameter
from ranvier.nn.utils._norm_helpers import normalize

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


def _as_matrix(weight, dim):
    if dim != 0:
        weight = weight.permute(dim, *[d for d in range(weight.dim()) if d != dim])
    return weight.reshape(weight.shape[0], -1)


class SpectralNorm:
    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             "n_power_iterations=%d" % n_power_iterations)
        self.name = name
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight):
        return _as_matrix(weight, self.dim)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with ranvier.no_grad():
                m = mat.detach()
                for _ in range(self.n_power_iterations):
                    v.copy_(normalize(m.t().mv(u), self.eps))
                    u.copy_(normalize(m.mv(v), self.eps))
            u = u.clone()
            v = v.clone()
        sigma = u.dot(mat.mv(v))
        return weight / sigma

    def remove(self, module):
        with ranvier.no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name,
                self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError("Cannot register two spectral_norm hooks on the same "
                                   "parameter %s" % name)
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError("spectral_norm: module %s has no parameter named '%s'"
                             % (type(module).__name__, name))
        if isinstance(weight, UninitializedParameter):
            raise ValueError("The module passed to `SpectralNorm` can't have uninitialized "
                             "parameters. Make sure to run the dummy forward before applying "
                             "spectral normalization")
        if dim < 0:
            dim += weight.dim()
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        with ranvier.no_grad():
            mat = fn.reshape_weight_to_matrix(weight.detach())
            h, w = mat.shape
            u = normalize(ranvier.empty(h, dtype=weight.dtype).normal_(0, 1), fn.eps)
            v = normalize(ranvier.empty(w, dtype=weight.dtype).normal_(0, 1), fn.eps)
        del module._parameters[name]
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.detach())
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def _default_dim(module):
    from ranvier.nn.modules.conv import ConvTranspose1d, ConvTranspose2d
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divides module.<name> by its spectral norm, estimated by power iteration (one step per
    training-mode forward). dim: the output dim (default 0; 1 for ConvTranspose)."""
    SpectralNorm.apply(module, name, n_power_iterations,
                       _default_dim(module) if dim is None else dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undoes spectral_norm: module.<name> becomes a Parameter holding the normalised value."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError("spectral_norm of '%s' not found in %s" % (name, module))
