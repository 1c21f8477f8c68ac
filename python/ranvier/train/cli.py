"""Command line of the trainer: `python -m ranvier.train` and the `ranvier-train` script.

    python -m ranvier.train                       # cnn on MNIST-1D (generated, no download)
    python -m ranvier.train --model gru --epochs 100
    python -m ranvier.train --dataset fashion-mnist --model cnn --epochs 10 --augment
    python -m ranvier.train --dataset story.txt --model gpt --epochs 5
"""
import argparse
import os
import sys
import time

# Test accuracies published for MNIST-1D (Greydanus & Steinbach, "Scaling Down Deep Learning
# with MNIST-1D", default split, 4000 train / 1000 test).
PUBLISHED = {("mnist1d", "mlp"): 0.68, ("mnist1d", "cnn"): 0.94, ("mnist1d", "gru"): 0.91}

# Defaults per dataset kind: (epochs, batch size, optimizer, learning rate, weight decay,
# schedule, label smoothing).
# MNIST-1D: the paper's 6000 steps of batch 100 at lr 1e-2 on all 4000 training examples
# (no validation split), with AdamW's decoupled weight decay, a cosine schedule, label
# smoothing 0.1 and random shifts of up to 5 samples (data.py); docs/train.md has what each
# of these measured.
_DEFAULTS = {"signal": (150, 100, "adamw", 1e-2, 0.1, "cosine", 0.1),
             "image": (15, 128, "adam", 1e-3, 0.0, "cosine", 0.0),
             "text": (5, 64, "adamw", 3e-4, 0.01, "none", 0.0)}
_VAL_FRACTION = {"mnist1d": 0.0}


def parser():
    from ranvier.train.data import DATASETS
    from ranvier.train.models import MODELS
    p = argparse.ArgumentParser(
        prog="python -m ranvier.train",
        description="Train a model on a dataset with ranvier and report its test accuracy.")
    p.add_argument("--dataset", default="mnist1d",
                   help=f"{', '.join(DATASETS)}, or the path of a text file (default mnist1d)")
    p.add_argument("--model", default="cnn", help="mlp, cnn, resnet, gru, lstm or gpt "
                   "(default cnn)")
    p.add_argument("--root", default=os.path.join("~", ".cache", "ranvier", "data"),
                   help="where datasets are found or generated")
    p.add_argument("--epochs", type=int, help="number of epochs (default by dataset)")
    p.add_argument("--batch-size", type=int, help="batch size (default by dataset)")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw", "rmsprop"))
    p.add_argument("--lr", type=float, help="learning rate (default by dataset)")
    p.add_argument("--schedule", choices=("none", "step", "cosine", "onecycle"),
                   help="learning-rate schedule (default: cosine for signals and images, none "
                        "for text)")
    p.add_argument("--weight-decay", type=float, help="(default by dataset)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random shifts for signals (on by default for mnist1d), random crops "
                        "and flips for images (off by default)")
    p.add_argument("--label-smoothing", type=float,
                   help="cross-entropy label smoothing (default 0.1 for mnist1d, else 0)")
    p.add_argument("--val-fraction", type=float,
                   help="part of the training set held out for validation (default 0.1; "
                        "0 for mnist1d, whose published figures use all 4000 examples)")
    p.add_argument("--patience", type=int, default=0,
                   help="stop when validation loss has not improved for this many epochs "
                        "(0: never)")
    p.add_argument("--clip", type=float, default=0.0, help="clip the gradient norm (0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers (default 0)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", help="directory for the checkpoint, log.jsonl and the plot "
                   "(default runs/<dataset>-<model>)")
    p.add_argument("--resume", action="store_true", help="go on from the checkpoint in --out")
    p.add_argument("--plot", action="store_true", help="write curves.png (needs matplotlib)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar")
    return p


def main(argv=None, out=print):
    import ranvier
    from ranvier.train import data as tdata
    from ranvier.train.loop import Trainer
    from ranvier.train.models import build_model

    cfg = parser().parse_args(argv)
    if cfg.threads:
        ranvier.set_num_threads(cfg.threads)
    ranvier.manual_seed(cfg.seed)
    t0 = time.perf_counter()
    if cfg.val_fraction is None:
        cfg.val_fraction = _VAL_FRACTION.get(cfg.dataset, 0.1)
    try:
        splits = tdata.load(cfg.dataset, cfg.root, cfg.val_fraction, cfg.augment, cfg.seed)
        model = build_model(cfg.model, splits.info)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        out(f"error: {e}")
        return 2
    epochs, batch, opt, lr, wd, schedule, smoothing = _DEFAULTS[splits.info.kind]
    cfg.epochs = cfg.epochs or epochs
    cfg.batch_size = cfg.batch_size or batch
    cfg.optimizer = cfg.optimizer or opt
    cfg.lr = cfg.lr or lr
    cfg.weight_decay = wd if cfg.weight_decay is None else cfg.weight_decay
    cfg.schedule = cfg.schedule or schedule
    if cfg.label_smoothing is None:
        cfg.label_smoothing = smoothing
    if not 0.0 <= cfg.label_smoothing <= 1.0:
        out(f"error: --label-smoothing must be in [0, 1], got {cfg.label_smoothing}")
        return 2
    if cfg.out is None:
        name = os.path.splitext(os.path.basename(cfg.dataset))[0]
        cfg.out = os.path.join("runs", f"{name}-{cfg.model}")
    count = sum(p.numel() for p in model.parameters())
    out(f"{cfg.model} on {cfg.dataset}: {count:,} parameters, {len(splits.train)} training "
        f"examples, {cfg.epochs} epochs of batch {cfg.batch_size}, {cfg.optimizer} "
        f"lr {cfg.lr:g} ({cfg.schedule} schedule), weight decay {cfg.weight_decay:g}, "
        f"label smoothing {cfg.label_smoothing:g}, "
        f"augmentation {'on' if splits.augmented else 'off'}, {ranvier.get_num_threads()} threads")
    trainer = Trainer(model, splits, cfg, out=out)
    if cfg.resume:
        try:
            trainer.resume()
        except (FileNotFoundError, ValueError, RuntimeError) as e:
            # missing, corrupt (CheckpointError is a ValueError) or from another model
            out(f"error: --resume: {e}")
            return 2
    finished = trainer.fit()
    if not finished:
        return 130
    if cfg.patience:  # early stopping: measure the weights with the best validation loss
        trainer.restore_best()
    final = splits.test if splits.test is not None else splits.val
    loss, acc = trainer.evaluate(final)
    which = "test" if splits.test is not None else "validation"
    line = f"{which} loss {loss:.4f}  {which} accuracy {acc:.4f}"
    ref = PUBLISHED.get((cfg.dataset, cfg.model))
    if ref is not None:
        line += f"  (published: {ref:.2f})"
    out(line)
    out(f"total time {time.perf_counter() - t0:.1f}s; log in {cfg.out}/log.jsonl")
    trainer.log.write({"final": which, "loss": loss, "accuracy": acc, "published": ref})
    return 0


if __name__ == "__main__":
    sys.exit(main())
