"""The training loop of `python -m ranvier.train`: epochs over a DataLoader, evaluation,
early stopping, gradient clipping, checkpoints that resume exactly, clean Ctrl-C.

Exact resume: the batches of epoch e are a permutation drawn from a generator seeded with
(seed, e), so they do not depend on what ran before; the checkpoint holds the model, optimizer
and scheduler states, the global random state (dropout, augmentation), the history and the
position inside the epoch. A run killed and resumed ends with the same parameters as a run
that was never interrupted.
"""
import math
import os
import signal
import time

import ranvier
from ranvier import nn
from ranvier.train.progress import JsonLog, Progress, epoch_line, plot

CHECKPOINT = "checkpoint.safetensors"
BEST = "best.safetensors"


def make_optimizer(name, params, lr, weight_decay):
    from ranvier import optim
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: choose sgd, adam, adamw or rmsprop")


def make_schedule(name, optimizer, epochs, steps_per_epoch):
    """(scheduler, per_batch): per_batch says whether it steps after every batch."""
    from ranvier.optim import lr_scheduler as S
    if name in (None, "none", "constant"):
        return None, False
    if name == "step":
        return S.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), False
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch), True
    if name == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        return S.OneCycleLR(optimizer, max_lr=max_lr, total_steps=epochs * steps_per_epoch), True
    raise ValueError(f"unknown schedule {name!r}: choose none, step, cosine or onecycle")


def _batches(n, batch_size, seed, epoch, start):
    """Index lists of epoch `epoch`'s batches, from batch number `start` on."""
    g = ranvier.Generator().manual_seed(seed * 100_003 + epoch)
    order = ranvier.randperm(n, generator=g).tolist()
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    return batches[start:]


def _loss_and_hits(logits, target, label_smoothing=0.0):
    """Mean cross-entropy and the number of correct predictions (per token for text)."""
    if logits.dim() == 3:
        logits = logits.reshape(-1, logits.shape[-1])
        target = target.reshape(-1)
    loss = nn.functional.cross_entropy(logits, target, label_smoothing=label_smoothing)
    hits = (logits.argmax(dim=1) == target).sum().item()
    return loss, hits, target.numel()


class Interrupted(Exception):
    pass


class Trainer:
    """Runs `cfg.epochs` epochs of `model` on `splits` (see ranvier.train.data.Splits)."""

    def __init__(self, model, splits, cfg, out=print):
        self.model, self.splits, self.cfg, self.out = model, splits, cfg, out
        self.device = ranvier.device(cfg.device)
        self.model.to(self.device)
        self.opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.weight_decay)
        steps = math.ceil(len(splits.train) / cfg.batch_size)
        self.sched, self.sched_per_batch = make_schedule(cfg.schedule, self.opt, cfg.epochs,
                                                         steps)
        self.history = []
        self.epoch, self.batch = 0, 0  # the next batch to run
        self.best, self.bad_epochs = math.inf, 0
        self.dir = cfg.out
        self.log = JsonLog(os.path.join(self.dir, "log.jsonl") if self.dir else None)
        self._stop = False
        self._best_state = None
        self._partial = {"loss": 0.0, "hits": 0, "count": 0, "seconds": 0.0}

    # ----- checkpoints -----
    def state(self):
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict() if self.sched else None,
                "rng": ranvier.get_rng_state(), "epoch": self.epoch, "batch": self.batch,
                "best": self.best, "bad_epochs": self.bad_epochs, "history": self.history,
                "partial": self._partial}

    def save(self, name=CHECKPOINT):
        if self.dir:
            ranvier.save(self.state(), os.path.join(self.dir, name))

    def resume(self):
        path = os.path.join(self.dir or ".", CHECKPOINT)
        if not os.path.exists(path):
            raise FileNotFoundError(f"--resume: no checkpoint at {path}")
        st = ranvier.load(path)
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        if self.sched and st["scheduler"] is not None:
            self.sched.load_state_dict(st["scheduler"])
        ranvier.set_rng_state(st["rng"])
        self.epoch, self.batch = st["epoch"], st["batch"]
        self.best, self.bad_epochs = st["best"], st["bad_epochs"]
        self.history = list(st["history"])
        self._partial = st["partial"]
        self.out(f"resumed from {path} at epoch {self.epoch + 1}, batch {self.batch}")

    # ----- one pass -----
    def _loader(self, dataset, batches):
        from ranvier.data import DataLoader
        return DataLoader(dataset, batch_sampler=batches, num_workers=self.cfg.workers)

    def train_epoch(self):
        cfg, data = self.cfg, self.splits.train
        batches = _batches(len(data), cfg.batch_size, cfg.seed, self.epoch, self.batch)
        total = self.batch + len(batches)
        self.model.train()
        bar = Progress(self._loader(data, batches), total,
                       f"epoch {self.epoch + 1}/{cfg.epochs}", enabled=cfg.progress)
        try:
            for x, y in bar:
                x, y = x.to(self.device), y.to(self.device)
                self.opt.zero_grad()
                loss, hits, count = _loss_and_hits(self.model(x), y,
                                                   getattr(cfg, "label_smoothing", 0.0))
                loss.backward()
                if cfg.clip:
                    nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
                self.opt.step()
                if self.sched is not None and self.sched_per_batch:
                    self.sched.step()
                value = loss.item()
                p = self._partial
                p["loss"] += value * count
                p["hits"] += hits
                p["count"] += count
                self.batch += 1
                bar.show(self.batch, value)
                if self._stop:
                    raise Interrupted
        finally:
            bar.close()

    @ranvier.no_grad()
    def evaluate(self, dataset):
        if dataset is None:
            return None, None
        self.model.eval()
        n = len(dataset)
        batches = [list(range(i, min(n, i + 512))) for i in range(0, n, 512)]
        loss_sum = hits_sum = count_sum = 0
        for x, y in self._loader(dataset, batches):
            loss, hits, count = _loss_and_hits(self.model(x.to(self.device)), y.to(self.device))
            loss_sum += loss.item() * count
            hits_sum += hits
            count_sum += count
        return loss_sum / count_sum, hits_sum / count_sum

    # ----- the run -----
    def _on_sigint(self, signum, frame):
        if self._stop:  # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        self._stop = True
        self.out("\ninterrupt: stopping after this batch and saving a checkpoint "
                 "(Ctrl-C again to quit at once)")

    def fit(self):
        """Train until the last epoch (call resume() first to go on from a checkpoint)."""
        cfg = self.cfg
        if self.dir:
            os.makedirs(self.dir, exist_ok=True)
        previous = None
        try:
            previous = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not the main thread: no Ctrl-C handling
            pass
        try:
            while self.epoch < cfg.epochs:
                t0 = time.perf_counter()
                try:
                    self.train_epoch()
                except Interrupted:
                    self._partial["seconds"] += time.perf_counter() - t0
                    self.save()
                    self.out(f"checkpoint saved in {self.dir}; go on with --resume"
                             if self.dir else "stopped (no --out directory: nothing saved)")
                    return False
                if self._end_epoch(time.perf_counter() - t0):
                    break
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if cfg.plot and self.dir:
            path = os.path.join(self.dir, "curves.png")
            if plot(self.history, path):
                self.out(f"curves plotted in {path}")
            else:
                self.out("--plot: matplotlib is not installed; no plot written")
        return True

    def _end_epoch(self, seconds):
        """Evaluate, log, checkpoint; True when early stopping ends the run."""
        cfg, p = self.cfg, self._partial
        val_loss, val_acc = self.evaluate(self.splits.val)
        rec = {"epoch": self.epoch + 1, "epochs": cfg.epochs,
               "train_loss": p["loss"] / max(1, p["count"]),
               "train_acc": p["hits"] / max(1, p["count"]),
               "val_loss": val_loss, "val_acc": val_acc,
               "lr": self.opt.param_groups[0]["lr"], "seconds": p["seconds"] + seconds}
        self.history.append(rec)
        self.out(epoch_line(rec))
        self.log.write(rec)
        if self.sched is not None and not self.sched_per_batch:
            self.sched.step()
        self.epoch, self.batch = self.epoch + 1, 0
        self._partial = {"loss": 0.0, "hits": 0, "count": 0, "seconds": 0.0}
        stop = False
        if val_loss is not None:
            if val_loss < self.best:
                self.best, self.bad_epochs = val_loss, 0
                self._best_state = {k: v.detach().clone()
                                    for k, v in self.model.state_dict().items()}
                self.save(BEST)
            else:
                self.bad_epochs += 1
                if cfg.patience and self.bad_epochs >= cfg.patience:
                    self.out(f"early stopping: validation loss has not improved for "
                             f"{self.bad_epochs} epochs")
                    stop = True
        self.save()
        return stop

    def restore_best(self):
        """Load the weights with the lowest validation loss, when they were kept."""
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)
            return True
        path = os.path.join(self.dir, BEST) if self.dir else None
        if path and os.path.exists(path):
            self.model.load_state_dict(ranvier.load(path)["model"])
            return True
        return False
