"""The datasets `python -m ranvier.train` knows: where they come from, how they are split into
train / validation / test, and their augmentation.

A dataset name is one of DATASETS or the path of a text file (character-level language
modelling). Images are normalised with their training set's channel mean and std.
"""
import os
from dataclasses import dataclass

DATASETS = ("mnist1d", "fashion-mnist", "mnist", "cifar10")

# MNIST-1D augmentation: random shifts of up to this many samples (of 40), zero filled. With
# the default recipe it measured test accuracy CNN 0.94 -> 0.97, MLP 0.65 -> 0.82 (docs/train.md).
MNIST1D_SHIFT = 5

# Channel means and stds of the training sets (facts of the data, used for normalisation).
_STATS = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


@dataclass
class DataInfo:
    kind: str                 # 'signal', 'image' or 'text'
    shape: tuple = ()         # one example's shape (signal, image)
    classes: int = 0          # number of classes (signal, image)
    vocab: int = 0            # vocabulary size (text)
    context: int = 0          # sequence length (text)


@dataclass
class Splits:
    train: object
    val: object
    test: object
    info: DataInfo
    augmented: bool = False   # the training set is augmented


def _holdout(dataset, fraction, seed):
    """Split off `fraction` of `dataset` for validation with a fixed generator."""
    import ranvier
    from ranvier.data import random_split
    if fraction <= 0:
        return dataset, None
    n_val = max(1, int(round(len(dataset) * fraction)))
    g = ranvier.Generator().manual_seed(seed)
    return tuple(random_split(dataset, [len(dataset) - n_val, n_val], generator=g))


def _image_transforms(name, augment):
    from ranvier.data import transforms as T
    mean, std = _STATS[name]
    size = 32 if name == "cifar10" else 28
    steps = [T.ToTensor()]
    if augment:
        steps.append(T.RandomCrop(size, padding=4 if size == 32 else 2))
        if name != "mnist":  # digits are not mirror-symmetric
            steps.append(T.RandomHorizontalFlip())
    steps.append(T.Normalize(mean, std))
    plain = T.Compose([T.ToTensor(), T.Normalize(mean, std)])
    return T.Compose(steps), plain


def _plain_validation(val, full_plain):
    """The validation part of a holdout split, read from the dataset without augmentation."""
    if val is None:
        return None
    from ranvier.data import Subset
    return Subset(full_plain, val.indices)


def load(name, root, val_fraction=0.1, augment=None, seed=0, context=64):
    """Train / validation / test datasets and a DataInfo for `name`. augment None means the
    dataset's default: on for mnist1d (random shifts of up to MNIST1D_SHIFT samples), off
    for images (random crops, and flips except for digits)."""
    from ranvier.data import datasets as D
    root = os.path.expanduser(root)
    if name == "mnist1d":
        augment = True if augment is None else augment
        from ranvier.data import transforms as T
        shift = T.RandomShift(MNIST1D_SHIFT) if augment else None
        full_plain = D.MNIST1D(root, train=True)
        train, val = _holdout(D.MNIST1D(root, train=True, transform=shift), val_fraction, seed)
        val = _plain_validation(val, full_plain)
        test = D.MNIST1D(root, train=False)
        x0, _ = test[0]
        return Splits(train, val, test, DataInfo("signal", tuple(x0.shape), 10), augment)
    if name in ("fashion-mnist", "mnist", "cifar10"):
        cls = {"fashion-mnist": D.FashionMNIST, "mnist": D.MNIST, "cifar10": D.CIFAR10}[name]
        augment = bool(augment)
        train_tf, plain_tf = _image_transforms(name, augment)
        full_aug = cls(root, train=True, transform=train_tf)
        full_plain = cls(root, train=True, transform=plain_tf)
        test = cls(root, train=False, transform=plain_tf)
        train, val = _holdout(full_aug, val_fraction, seed)
        val = _plain_validation(val, full_plain)
        shape = (3, 32, 32) if name == "cifar10" else (1, 28, 28)
        return Splits(train, val, test, DataInfo("image", shape, 10), augment)
    if os.path.isfile(name):
        train = D.CharCorpus(name, seq_len=context, split="train")
        val = D.CharCorpus(name, seq_len=context, split="val")
        return Splits(train, val, None, DataInfo("text", vocab=train.vocab_size, context=context))
    raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)} "
                     "or give the path of a text file")
