"""Finite where the truth is finite: re-evaluate the few lanes whose derivative overflowed in the middle.

A derivative formula can pass through numbers the float format cannot hold even when its result is an ordinary
number: the second derivative of ``1/(1 + x**2)`` at x = 1e200 is ``8x**2/(1+x**2)**3 - 2/(1+x**2)**2``, whose
``x**2`` overflows to inf, so float64 gives inf/inf = nan where the truth is 6e-600 (0 in float64). Rewriting every
such formula is whack-a-mole; instead, the lanes that come out non-finite from finite inputs are evaluated once
more in a wider format (x87 extended precision, exponent range 1e±4932, for float64 plans; float64 for float32
plans) and taken from there when the wide result is finite in the plan's dtype.

Only non-finite lanes are touched, lane by lane, so the result is bit-identical for every chunking and thread
count, and costs nothing on data that stays in range. Where the platform has no wider format than float64
(``long double`` is a plain double on Windows and some ARM ABIs), float64 plans are left as they are.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def wider(dtype: np.dtype) -> np.dtype | None:
    """The format to retry in, or None when the platform has none wider than ``dtype``."""
    if np.dtype(dtype) == np.float32:
        return np.dtype(np.float64)
    long = np.dtype(np.longdouble)
    return long if np.finfo(long).maxexp > np.finfo(np.float64).maxexp else None


def rescue(kernel: Callable[[list[np.ndarray]], list], inputs: Sequence[np.ndarray], parts: list,
           dtype: np.dtype) -> list:
    """``parts`` (the outputs of ``kernel(inputs)``) with non-finite lanes recomputed wider where that helps.

    ``kernel``: arrays in (any mutually broadcastable shapes), one array or constant out per output.
    """
    arrays = [p for p in parts if isinstance(p, np.ndarray) and p.ndim]
    wide = wider(dtype)
    if wide is None or not arrays or all(np.isfinite(p).all() for p in arrays):
        return parts
    full = np.broadcast_shapes(*[np.shape(v) for v in inputs], *[p.shape for p in arrays])
    bad = np.zeros(full, bool)
    for p in arrays:
        bad |= ~np.isfinite(p)
    for v in inputs:  # a non-finite input explains its own result: nothing to rescue there
        bad &= np.isfinite(v)
    where = np.nonzero(bad)
    if not len(where[0]):
        return parts
    retry = [np.broadcast_to(v, full)[where].astype(wide) for v in inputs]
    with np.errstate(all="ignore"):
        again = kernel(retry)
    out = list(parts)
    for k, p in enumerate(parts):
        if not (isinstance(p, np.ndarray) and p.ndim) or np.isfinite(p).all():
            continue
        with np.errstate(over="ignore"):  # a wide result beyond the plan's range stays non-finite: kept as is
            value = np.broadcast_to(np.asarray(again[k]), where[0].shape).astype(p.dtype)
        fixed = np.array(np.broadcast_to(p, full))  # a lane-constant part may now differ lane by lane
        keep = fixed[where]
        fixed[where] = np.where(np.isfinite(value) & ~np.isfinite(keep), value, keep)
        out[k] = fixed
    return out
