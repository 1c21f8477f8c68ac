"""`python -m ranvier.train`: train a named model on a named dataset (see cli.py)."""
from ranvier.train.cli import main  # noqa: F401
