"""ctc_loss of ranvier.nn.functional (re-exported there): argument conversion around the C++ op
`_C._ctc_loss` (csrc/ops/ctc.h), which owns the checks, the alpha/beta recursions and the
reduction."""
import ranvier
from ranvier import _C

__all__ = ["ctc_loss"]


def _lengths(x, what):
    if isinstance(x, _C.Tensor):
        return x
    try:
        return ranvier.tensor(list(x) if not isinstance(x, int) else [x], dtype=ranvier.int64)
    except TypeError:
        raise TypeError("ctc_loss: %s must be a Tensor or a sequence of ints, got %s"
                        % (what, type(x).__name__)) from None


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """CTC loss of log_probs [T, N, C] (or [T, C]) against padded [N, S] or concatenated
    targets. 'mean' divides each loss by its target length, then averages over the batch."""
    if reduction not in ("none", "mean", "sum"):
        raise ValueError("ctc_loss: '%s' is not a valid value for reduction (expected 'none', "
                         "'mean' or 'sum')" % reduction)
    input_lengths = _lengths(input_lengths, "input_lengths")
    target_lengths = _lengths(target_lengths, "target_lengths")
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        if targets.dim() == 1:
            targets = targets.unsqueeze(0)
        input_lengths = input_lengths.reshape(-1)
        target_lengths = target_lengths.reshape(-1)
    out = _C._ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                       bool(zero_infinity))
    if unbatched and reduction == "none":
        out = out.squeeze(0)
    return out
