"""parameters_to_vector / vector_to_parameters: one flat vector for many parameters."""
from ranvier import _C


def parameters_to_vector(parameters):
    """Concatenates the flattened parameters (differentiable)."""
    return _C.cat([p.reshape(-1) for p in parameters], 0)


def vector_to_parameters(vec, parameters):
    """Copies consecutive slices of vec into the parameters' data."""
    if not isinstance(vec, _C.Tensor):
        raise TypeError("expected ranvier.Tensor, but got: %s" % type(vec).__name__)
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.dim() != 1 or vec.numel() != total:
        raise ValueError("vector_to_parameters: vec of shape %s does not match the %d elements "
                         "of the parameters" % (list(vec.shape), total))
    pointer = 0
    for p in parameters:
        n = p.numel()
        p.data = vec[pointer:pointer + n].view_as(p).detach()
        pointer += n
