"""NumPy implementations of the rows that look at several arguments at once: softmax's, ``where``, ``clip``.

Kept apart from the function table (``functions.py``) so that the table stays a table; every function here keeps
float32 as float32 and never overflows (exponentials of non-positive numbers only).
"""
from __future__ import annotations

import numpy as np


def _float_like(*args: object) -> np.dtype:
    return np.result_type(*[np.asarray(a) if not isinstance(a, float) else a for a in args], np.float32)


def _parts(xs):
    """exp(x - max) per argument (max shifted to 0 unless infinite), stacked on a new first axis."""
    a = np.stack(np.broadcast_arrays(*xs))
    m = a.max(axis=0)
    return np.exp(a - np.where(np.isfinite(m), m, 0))


def softmax(*xs):
    e = _parts(xs)
    return e[0] / e.sum(axis=0)


def softmax_rest(*xs):
    # 1 - softmax as the sum of the other terms: 1 - 0.99995 would keep only 12 of the 16 digits of 4.5e-5.
    e = _parts(xs)
    return e[1:].sum(axis=0) / e.sum(axis=0)


def log_softmax(*xs):
    a = np.stack(np.broadcast_arrays(*xs))
    m = a.max(axis=0)
    shift = np.where(np.isfinite(m), m, 0)
    return (a[0] - shift) - np.log(np.sum(np.exp(a - shift), axis=0))


def select(c, a, b):
    return np.where(np.asarray(c) != 0, a, b).astype(_float_like(c, a, b), copy=False)


def clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)  # TF's clip_by_value, in this order (lo > hi gives hi)


def inside(x, lo, hi):
    # TF passes the gradient where neither x < lo nor x > hi: the bounds themselves (and nan) included.
    return (~(np.less(x, lo) | np.greater(x, hi))).astype(_float_like(x, lo, hi))
