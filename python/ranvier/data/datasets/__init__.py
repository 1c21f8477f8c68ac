"""ranvier.data.datasets: real datasets read from their published file formats."""
from ranvier.data.datasets.mnist import MNIST, FashionMNIST, KMNIST, EMNIST
from ranvier.data.datasets.cifar import CIFAR10, CIFAR100
from ranvier.data.datasets.mnist1d import MNIST1D
from ranvier.data.datasets.text import TextFile, CharCorpus

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "EMNIST", "CIFAR10", "CIFAR100", "MNIST1D",
           "TextFile", "CharCorpus"]
