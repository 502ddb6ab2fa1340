"""jaccli: per-example (batch) Jacobians of any order, in TensorFlow's layout, from the shell or from Python.

    >>> import numpy as np, jaccli
    >>> jaccli.batch_jacobian("x*x*x", np.array([[4.0, 2.0], [1.0, 3.0]]), order=1).shape
    (2, 2, 2)

``batch_jacobian`` (and SymPy behind it) loads on first use, so ``import jaccli`` and ``jaccli --help`` stay fast.
"""
from __future__ import annotations

from typing import Any

__version__ = "1.1.0"
__all__ = ["batch_jacobian", "__version__"]


def __getattr__(name: str) -> Any:  # PEP 562: lazy attribute
    if name == "batch_jacobian":
        from jaccli.api import batch_jacobian

        return batch_jacobian
    raise AttributeError(f"module 'jaccli' has no attribute {name!r}")
