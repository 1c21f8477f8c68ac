"""Progress display and logs of the trainer: a per-epoch progress bar (tqdm when installed, a
plain line otherwise), the JSON-lines log and the optional PNG plot of the curves."""
import json
import sys
import time


class Progress:
    """Wraps an iterable of batches; shows the running loss. tqdm if importable; otherwise a
    single line rewritten in place when stderr is a terminal, and nothing when it is not."""

    def __init__(self, iterable, total, desc, enabled=True):
        self.iterable, self.total, self.desc = iterable, total, desc
        self.enabled = enabled
        self._bar = None
        self._tty = enabled and sys.stderr.isatty()
        if enabled:
            try:
                from tqdm.auto import tqdm
                self._bar = tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)
            except ImportError:
                pass
        self._last = 0.0

    def __iter__(self):
        for item in self.iterable:
            yield item
            if self._bar is not None:
                self._bar.update(1)

    def show(self, done, loss):
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        elif self._tty and (time.monotonic() - self._last > 0.2 or done == self.total):
            self._last = time.monotonic()
            sys.stderr.write(f"\r{self.desc} {done}/{self.total} loss {loss:.4f}  ")
            sys.stderr.flush()

    def close(self):
        if self._bar is not None:
            self._bar.close()
        elif self._tty:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


class JsonLog:
    """Appends one JSON object per line; each write is flushed so the file is always whole."""

    def __init__(self, path):
        self.path = path

    def write(self, record):
        if self.path is None:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def epoch_line(rec):
    parts = [f"epoch {rec['epoch']:>3}/{rec['epochs']}",
             f"train loss {rec['train_loss']:.4f} acc {rec['train_acc']:.4f}"]
    if rec.get("val_loss") is not None:
        parts.append(f"val loss {rec['val_loss']:.4f} acc {rec['val_acc']:.4f}")
    parts.append(f"lr {rec['lr']:.2e}")
    parts.append(f"{rec['seconds']:.1f}s")
    return "  ".join(parts)


def plot(history, path):
    """Loss and accuracy curves of `history` (list of epoch records) into a PNG at `path`.
    Returns False (and writes nothing) when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    epochs = [r["epoch"] for r in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train", "train"), ("val", "validation")):
        losses = [r.get(f"{key}_loss") for r in history]
        if any(v is not None for v in losses):
            ax1.plot(epochs, losses, label=label)
            ax2.plot(epochs, [r.get(f"{key}_acc") for r in history], label=label)
    ax1.set_xlabel("epoch"), ax1.set_ylabel("loss"), ax1.legend()
    ax2.set_xlabel("epoch"), ax2.set_ylabel("accuracy"), ax2.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
