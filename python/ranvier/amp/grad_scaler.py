"""ranvier.amp.GradScaler: dynamic loss scaling for mixed-precision training.

scale(loss) multiplies by the current scale so that small float16 gradients do not flush to
zero; unscale_(optimizer) divides the gradients back and notes any inf/NaN (one C++ pass per
gradient: _C._amp_foreach_non_finite_check_and_unscale_); step(optimizer) skips the step when
one was found; update() backs the scale off after such a step and grows it after
growth_interval clean steps (_C._amp_update_scale_). The scale, the growth tracker and the
found-inf flags stay tensors on the device, so the only host read is the one in step() that
decides whether to step.
"""
import warnings
from collections import defaultdict
from enum import Enum

import ranvier
from ranvier import _C

__all__ = ["GradScaler"]


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


def _device_type(device, fn):
    if isinstance(device, ranvier.device):
        device = device.type
    if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda"):
        raise RuntimeError(f"{fn}: expected device 'cpu' or 'cuda', but got {device!r}")
    return device.split(":")[0]


class GradScaler:
    """Loss scaling with PyTorch's names and defaults:

        scaler = ranvier.amp.GradScaler("cpu")
        with ranvier.autocast("cpu"):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)      # unscales (unless unscale_ was called), skips on inf/NaN
        scaler.update()

    An enabled scaler for 'cuda' without CUDA warns and disables itself; a disabled scaler
    passes everything through (scale returns its input, step just steps)."""

    def __init__(self, device="cuda", init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = _device_type(device, "GradScaler")
        self._enabled = bool(enabled)
        if self._enabled and self._device == "cuda" and not ranvier.cuda.is_available():
            warnings.warn("GradScaler: enabled for device 'cuda', but CUDA is not available; "
                          "the scaler is disabled.", stacklevel=2)
            self._enabled = False
        if self._enabled:
            if not growth_factor > 1.0:
                raise ValueError(f"GradScaler: growth_factor must be > 1.0, but got "
                                 f"{growth_factor}")
            if not backoff_factor < 1.0:
                raise ValueError(f"GradScaler: backoff_factor must be < 1.0, but got "
                                 f"{backoff_factor}")
            if not (isinstance(growth_interval, int) and growth_interval > 0):
                raise ValueError(f"GradScaler: growth_interval must be a positive int, but got "
                                 f"{growth_interval!r}")
        self._init_scale = float(init_scale)
        self._scale = None
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = growth_interval
        self._init_growth_tracker = 0
        self._growth_tracker = None
        self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    # -- state on the device ------------------------------------------------------------------

    def _lazy_init(self, device):
        self._scale = ranvier.full((), self._init_scale, dtype=ranvier.float32, device=device)
        self._growth_tracker = ranvier.full((), self._init_growth_tracker,
                                            dtype=ranvier.int32, device=device)

    def _check_initialised(self, fn):
        if self._scale is None:
            raise RuntimeError(f"GradScaler.{fn}: the scale is not set up yet; call "
                               f"scaler.scale(loss) (or outputs) earlier in the iteration.")
        return self._scale, self._growth_tracker

    # -- the training-step API ----------------------------------------------------------------

    def scale(self, outputs):
        """outputs (a tensor, or lists/tuples of tensors, nested) multiplied by the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, ranvier.Tensor):
            if self._scale is None:
                self._lazy_init(outputs.device)
            return outputs * self._scale.to(outputs.device)

        def apply(val):
            if isinstance(val, ranvier.Tensor):
                if self._scale is None:
                    self._lazy_init(val.device)
                return val * self._scale.to(val.device)
            if isinstance(val, (list, tuple)):
                return type(val)(apply(v) for v in val)
            raise ValueError(f"GradScaler.scale: outputs must be a Tensor or a (nested) list or "
                             f"tuple of Tensors, but got {type(val).__name__}")

        return apply(outputs)

    def _unscale_grads_(self, optimizer, inv_scale, found_inf, allow_fp16):
        per_device = defaultdict(list)
        for group in optimizer.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if not allow_fp16 and g.dtype == ranvier.float16:
                    raise ValueError("GradScaler.unscale_: attempting to unscale float16 "
                                     "gradients; keep the parameters in float32 and let "
                                     "autocast cast them.")
                per_device[str(g.device)].append(g)
        found = {}
        for dev, grads in per_device.items():
            f = found_inf.to(dev)
            _C._amp_foreach_non_finite_check_and_unscale_(grads, f, inv_scale.to(dev))
            found[dev] = f
        return found

    def unscale_(self, optimizer):
        """Divides the optimizer's gradients by the scale in place (at most once per step, e.g.
        before clipping) and records whether any is inf/NaN."""
        if not self._enabled:
            return
        self._check_initialised("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("GradScaler.unscale_: unscale_() has already been called on this "
                               "optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("GradScaler.unscale_: unscale_() is being called after step(); "
                               "call update() first.")
        inv_scale = self._scale.double().reciprocal().float()
        found_inf = ranvier.zeros(1, dtype=ranvier.float32, device=self._scale.device)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, found_inf,
                                                             False)
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """optimizer.step(*args, **kwargs) unless a gradient was inf/NaN (then skipped; returns
        None). Unscales first when unscale_ was not called this iteration."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("GradScaler.step: a closure is not supported while the scaler is "
                               "enabled.")
        self._check_initialised("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("GradScaler.step: step() has already been called since the last "
                               "update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(state["found_inf_per_device"]) == 0:
            raise RuntimeError("GradScaler.step: no inf checks were recorded for this optimizer "
                               "(none of its parameters has a gradient).")
        retval = None
        if not sum(v.item() for v in state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None):
        """Updates the scale for the next iteration: new_scale (a float or a one-element float32
        tensor) if given; otherwise backs off after a skipped step, grows after growth_interval
        clean steps."""
        if not self._enabled:
            return
        scale, tracker = self._check_initialised("update")
        if new_scale is not None:
            if isinstance(new_scale, (int, float)) and not isinstance(new_scale, bool):
                scale.fill_(float(new_scale))
            else:
                ok = (isinstance(new_scale, ranvier.Tensor) and new_scale.numel() == 1 and
                      new_scale.dtype == ranvier.float32 and not new_scale.requires_grad and
                      new_scale.device.type == scale.device.type)
                if not ok:
                    raise ValueError("GradScaler.update: new_scale must be a float or a "
                                     "one-element float32 tensor (on the scaler's device, not "
                                     f"requiring grad), but got {new_scale!r}")
                scale.copy_(new_scale.reshape(()))
        else:
            found = [f for st in self._per_optimizer_states.values()
                     for f in st["found_inf_per_device"].values()]
            if not found:
                raise RuntimeError("GradScaler.update: no inf checks were recorded before "
                                   "update(); call step(optimizer) (or unscale_) first.")
            combined = found[0].to(scale.device).clone()
            for f in found[1:]:
                combined += f.to(scale.device)
            _C._amp_update_scale_(scale, tracker, combined, self._growth_factor,
                                  self._backoff_factor, self._growth_interval)
        self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    # -- accessors ----------------------------------------------------------------------------

    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale.item()

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        if self._growth_tracker is None:
            return self._init_growth_tracker
        return int(self._growth_tracker.item())

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        """scale, growth_factor, backoff_factor, growth_interval, _growth_tracker ({} when
        disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("GradScaler.load_state_dict: the state dict is empty, possibly "
                               "because it was saved from a disabled GradScaler.")
        missing = [k for k in ("scale", "growth_factor", "backoff_factor", "growth_interval",
                               "_growth_tracker") if k not in state_dict]
        if missing:
            raise KeyError(f"GradScaler.load_state_dict: missing keys {missing}")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale.fill_(self._init_scale)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(self._init_growth_tracker)

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise RuntimeError("GradScaler: a scaler can be pickled only at the start of an "
                                   "iteration or after update().")
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        state["_per_optimizer_states"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._per_optimizer_states = defaultdict(_fresh_optimizer_state)
