"""L1 regularisation helper. Weight decay in the optimizers is the L2 kind; an L1 penalty is
added to the loss instead: ``loss = loss + lam * optim.l1_penalty(model.parameters())``."""
import ranvier

__all__ = ["l1_penalty"]


def l1_penalty(params):
    """The sum of the absolute values of all given tensors (differentiable; a 0-d tensor)."""
    total = None
    for p in params:
        term = p.abs().sum()
        total = term if total is None else total + term
    if total is None:
        return ranvier.tensor(0.0)
    return total
