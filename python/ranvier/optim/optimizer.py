"""Optimizer: the base class of ranvier.optim's optimizers.

It owns the parameter groups (``param_groups``: a list of dicts holding ``'params'`` and the
group's hyper-parameters), the per-parameter ``state`` (a dict keyed by the parameter tensor),
``zero_grad``, and ``state_dict`` / ``load_state_dict`` in PyTorch's layout: ``state`` keyed by
the parameter's index across all groups, ``param_groups`` with ``'params'`` as index lists.
Subclasses implement ``step`` by collecting the parameters that have a gradient and calling one
fused C++ kernel per group (ranvier._C._optim_*).
"""
import warnings
from collections import defaultdict
from copy import deepcopy

import ranvier
from ranvier import _C

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyper-parameter that has no default and must be given."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

# Scalar counters kept in their own dtype when a state_dict is loaded (PyTorch exempts 'step';
# NAdam's running product is exempted too, so that a resumed run equals an uninterrupted one).
_UNCAST_KEYS = ("step", "mu_product")


def _is_tensor(x):
    return isinstance(x, _C.Tensor)


def _type_name(x):
    return type(x).__module__ + "." + type(x).__qualname__


class Optimizer:
    """Base class of all optimizers.

    params: an iterable of tensors, of (name, tensor) pairs, or of dicts (parameter groups, each
    with a ``'params'`` entry and optional per-group hyper-parameters).
    defaults: the hyper-parameters used by groups that do not set them.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if _is_tensor(params):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _type_name(params))
        if isinstance(params, dict):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a dict")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # -- groups -------------------------------------------------------------------------------

    def add_param_group(self, param_group):
        """Adds a group of parameters (a dict with 'params' and optional hyper-parameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        param_group = dict(param_group)
        params = param_group["params"]
        if _is_tensor(params):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        names = []
        plain = []
        for p in params:
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
                names.append(p[0])
                p = p[1]
            plain.append(p)
        if names and len(names) != len(plain):
            raise ValueError("all optimizer params should be given with names or all without")
        if names:
            param_group["param_names"] = names
        for p in plain:
            if not _is_tensor(p):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _type_name(p))
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        param_group["params"] = plain

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)

        ids = [id(p) for p in plain]
        if len(set(ids)) != len(ids):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error", UserWarning, stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -- gradients ------------------------------------------------------------------------------

    def zero_grad(self, set_to_none=True):
        """Resets the gradients of all parameters: to None (the default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g = g.detach()
                        p.grad = g
                    g.zero_()

    def step(self, closure=None):
        """Performs one optimisation step (implemented by each optimizer)."""
        raise NotImplementedError

    def _eval_closure(self, closure):
        if closure is None:
            return None
        with ranvier.enable_grad():
            return closure()

    # -- state_dict ------------------------------------------------------------------------------

    def state_dict(self):
        """The optimizer's state as a dict: {'state': {index: {...}}, 'param_groups': [...]}.

        Parameters are replaced by their position across all groups (in group order), so the
        dict can be loaded into an optimizer built over other tensors of the same shapes. The
        tensors in ``state`` are the optimizer's own (not copies), as in PyTorch.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                if id(p) not in index:
                    index[id(p)] = len(index)
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for key, value in self.state.items():
            state[index[id(key)] if _is_tensor(key) else key] = value
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Loads a dict made by state_dict(). Raises ValueError when the number of groups or
        of parameters in a group differs. State tensors are copied, converted to the dtype of
        their parameter (except the 'step' and 'mu_product' counters)."""
        if not isinstance(state_dict, dict) or "state" not in state_dict \
                or "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with 'state' and "
                             "'param_groups' entries")
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, sg in zip(groups, saved_groups):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        id_map = {}
        for g, sg in zip(groups, saved_groups):
            for old_id, p in zip(sg["params"], g["params"]):
                id_map[old_id] = p

        def cast(param, value, key=None):
            if _is_tensor(value):
                value = value.detach()
                if key not in _UNCAST_KEYS and param.is_floating_point() \
                        and value.is_floating_point():
                    value = value.to(dtype=param.dtype)
                if key not in _UNCAST_KEYS and value.device != param.device:
                    return value.to(param.device)  # state lives on its parameter's device
                return value.clone()
            if isinstance(value, dict):
                return {k: cast(param, v, key=k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v, key=key) for v in value)
            return value

        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = cast(param, value)
            else:
                state[key] = value
        new_groups = []
        for g, sg in zip(groups, saved_groups):
            sg["params"] = g["params"]
            if "param_names" in g and "param_names" not in sg:
                sg["param_names"] = g["param_names"]
            new_groups.append(sg)
        self.state = state
        self.param_groups = new_groups

    # -- printing ----------------------------------------------------------------------------

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group.keys()):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)


def _scalar_step(value=0.0):
    """A step counter as PyTorch keeps it: a 0-d tensor of the default float dtype."""
    return ranvier.tensor(float(value), dtype=_step_dtype())


def _step_dtype():
    get = getattr(ranvier, "get_default_dtype", None)
    dt = get() if get is not None else ranvier.float32
    return ranvier.float64 if dt == ranvier.float64 else ranvier.float32


def _as_step(value):
    """A loaded 'step' given as a number becomes a tensor (as PyTorch converts old states)."""
    return value if _is_tensor(value) else _scalar_step(value)


def _group_state(optimizer, params, keys):
    """The state of `params` for one update: 'step' and a zero buffer per name in `keys`,
    created on first use (a key missing from a loaded state is created too). Returns the
    buffers as one list per key, and the step counters."""
    lists = [[] for _ in keys]
    steps = []
    for p in params:
        state = optimizer.state[p]
        if len(state) == 0:
            state["step"] = _scalar_step()
        for key, out in zip(keys, lists):
            if key not in state:
                state[key] = ranvier.zeros_like(p)
            out.append(state[key])
        state["step"] = _as_step(state["step"])
        steps.append(state["step"])
    return lists, steps


def _params_with_grad(group):
    """The parameters of a group that have a gradient, and those gradients."""
    params, grads = [], []
    for p in group["params"]:
        g = p.grad
        if g is not None:
            params.append(p)
            grads.append(g)
    return params, grads


def _check_lr(lr):
    if _is_tensor(lr):
        lr = float(lr)
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    return lr


def _check_nonneg(value, what):
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what} value: {value}")


def _check_betas(betas):
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")
