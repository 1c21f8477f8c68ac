"""ranvier.optim: optimizers (fused multi-tensor C++ updates, one call per parameter group),
learning-rate schedulers (ranvier.optim.lr_scheduler) and an L1-penalty helper."""
from ranvier.optim.optimizer import Optimizer
from ranvier.optim.sgd import SGD
from ranvier.optim.adam import Adam, AdamW
from ranvier.optim.rmsprop import RMSprop
from ranvier.optim.adagrad import Adagrad
from ranvier.optim.adadelta import Adadelta
from ranvier.optim.adamax import Adamax
from ranvier.optim.nadam import NAdam, RAdam
from ranvier.optim.lbfgs import LBFGS
from ranvier.optim._l1 import l1_penalty
from ranvier.optim import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax",
           "NAdam", "RAdam", "LBFGS", "l1_penalty", "lr_scheduler"]
