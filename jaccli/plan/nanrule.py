"""The nan rule: a component whose value is nan has nan derivatives, all of them.

``sqrt(x[0]) + x[1]`` at x[0] = -1 has the value nan; its partial by x[1] is 1 by the formula, and TensorFlow
reports that 1. jaccli does not: a derivative is a statement about the function near the point, and a function
whose value there is undefined has none. So wherever ``y[b, t]`` is nan, ``out[b, t, ...]`` is nan for every
source index (and order); components whose value is a number keep their derivatives as computed, inf included
(``sqrt'(0) = inf``).

Checking costs one evaluation of the target's value, so it is done only where a nan can arise from finite data:
templates with a function outside its domain (``sqrt``, ``log``, ``asin``, ``pow`` of a fractional or negative
exponent, ...) and chunks whose inputs hold a nan (``--allow-nonfinite``). A nan made by overflow alone
(``exp(x) - exp(x)`` at x = 1000, inf - inf) is not looked for: that would tax every plan.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # planning-time only: evaluation (apply, inputs_hold_nan) evaluates cached plans without SymPy
    import sympy

    from jaccli.expr.field import Field

# Rows (by name) that give nan for some finite argument.
NAN_PRONE_ROWS = frozenset({"sqrt", "log", "log1p", "log2", "log10", "asin", "acos", "acosh", "atanh", "pow"})


def _nan_prone(e: sympy.Expr) -> bool:
    import sympy

    for node in sympy.preorder_traversal(e):
        row = getattr(type(node), "jaccli_row", None)
        if row is not None and row.name in NAN_PRONE_ROWS:
            return True
        if isinstance(node, sympy.log):
            return True
        if node.is_Pow and node.exp.is_number and not (node.exp.is_Integer and node.exp > 0):
            return True  # a root, or a division (0/0 is nan)
        if node.is_Pow and not node.exp.is_number:
            return True
    return False


def may_be_nan(target: Field) -> bool:
    """Can the value of ``target`` be nan for finite inputs? (False means: surely not, outside of overflow.)"""
    return any(_nan_prone(p.expr) for p in target.pieces)


def inputs_hold_nan(arrays: Mapping[str, np.ndarray]) -> bool:
    return any(a.dtype.kind == "f" and bool(np.isnan(a).any()) for a in arrays.values())


def checked(value: np.ndarray, arrays: Mapping[str, np.ndarray], nan_prone: bool) -> np.ndarray:
    """The value as the rule sees it: where the plan is not nan-prone, only the examples whose own inputs hold a
    nan are checked, example by example, so the result never depends on which examples share a chunk (a nan that
    overflow makes in another example of the chunk is not looked for, as documented)."""
    if nan_prone:
        return value
    b = value.shape[0]
    rows = np.zeros(b, bool)
    for a in arrays.values():
        if a.dtype.kind == "f" and a.ndim and a.shape[0] == b:
            rows |= np.isnan(a.reshape(b, -1)).any(axis=1)
    return np.where(rows.reshape((b,) + (1,) * (value.ndim - 1)), value, 0)


def apply(out: np.ndarray, value: np.ndarray) -> None:
    """Set every derivative of a nan component to nan: ``out`` is ``(b, *T, *S^k)``, ``value`` is ``(b, *T)``."""
    b = value.shape[0]
    nan = np.isnan(value.reshape(b, -1))
    if nan.any():
        out.reshape(b, nan.shape[1], -1)[nan] = np.nan
