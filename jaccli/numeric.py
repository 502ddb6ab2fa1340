"""The NumPy side of the function table, by name and without SymPy: the ops a plan's kernel calls.

``functions.py`` stays the single place where a derivative rule is defined (``catalog.py`` says how users call
the function and what its convention is); its rows take their NumPy implementation from ``NUMPY`` here, by name,
so that a plan loaded from the plan cache (``plan/cache.py``) runs with NumPy alone: a warm CLI call never imports
SymPy. A new function users call adds its catalog row, its implementation to ``USER_OPS`` here and its row there
(a row without one fails at import, by name); its number of arguments is the catalog row's and is written nowhere
else. An internal helper adds its implementation and its arity to ``HELPER_OPS``.

``OPS`` is the whole op table: the rows plus the arithmetic the kernel emits for SymPy's own nodes (``add``,
``mul``, ``div``...). ``ARITY`` gives each op's argument count (None: any), checked when a plan is loaded.
``catalog.py`` is SymPy-free and imports nothing of jaccli, so a cached plan still loads without SymPy.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from jaccli import catalog, nary


def _float_like(*args: object) -> np.dtype:
    return np.result_type(*[np.asarray(a) if not isinstance(a, float) else a for a in args], np.float32)


def _indicator(mask: np.ndarray, *args: object) -> np.ndarray:
    """1.0 where ``mask`` holds, else 0.0, in the arguments' float dtype (float32 stays float32)."""
    return np.asarray(mask).astype(_float_like(*args))


def _sigmoid(x):
    # exp of a non-positive number never overflows; each branch is exact in its own half-line.
    e = np.exp(-np.abs(x))
    return np.where(np.asarray(x) >= 0, 1 / (1 + e), e / (1 + e))


def _dsigmoid(x):
    e = np.exp(-np.abs(x))  # sigmoid(x)*sigmoid(-x) = e/(1+e)**2 for either sign of x, never overflowing
    return e / ((1 + e) * (1 + e))


def _hcos(a, b):
    h = np.hypot(a, b)
    return a / h


def _vectorize_libm(fn: Callable[[float], float]) -> Callable:
    """A C-library scalar function (math.erf) over arrays, keeping float32 as float32."""
    ufunc = np.frompyfunc(fn, 1, 1)

    def apply(x):
        x = np.asarray(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.float64
        return np.asarray(ufunc(x)).astype(dtype)  # frompyfunc gives a bare float for 0-d input

    return apply


def _norm(*xs):
    # Scale by the largest magnitude so that squares never overflow or underflow.
    a = np.abs(np.stack(np.broadcast_arrays(*xs)))
    m = a.max(axis=0)
    ok = np.isfinite(m) & (m > 0)
    scale = np.where(ok, m, 1)
    return np.where(ok, scale * np.sqrt(np.sum((a / scale) ** 2, axis=0)), m)


def _logsumexp(*xs):
    a = np.stack(np.broadcast_arrays(*xs))
    m = a.max(axis=0)
    shift = np.where(np.isfinite(m), m, 0)
    return shift + np.log(np.sum(np.exp(a - shift), axis=0))


def _logpos(x):
    return np.where(np.asarray(x) > 0, np.log(np.where(np.asarray(x) > 0, x, 1)), 0 * np.asarray(x))


def _recippos(x):
    return np.where(np.asarray(x) > 0, 1 / np.where(np.asarray(x) > 0, x, 1), 0 * np.asarray(x))


def _softplus(x):
    return np.logaddexp(0, x)


def _relu(x):
    return np.maximum(x, 0)


def _sech(x):
    return 1 / np.cosh(x)


def _omtanh(x):
    # 1 - tanh(x) = 2/(1 + e^{2x}): no cancellation where tanh(x) rounds to 1 (x > 19), exact limits at both ends.
    return 2 / (1 + np.exp(2 * np.asarray(x)))


def _omx2(x):
    return (1 - x) * (1 + x)


def _step(x):
    return _indicator(np.asarray(x) > 0, x)


def _comparison(compare: np.ufunc):
    """1.0 where ``compare(a, b)`` holds, else 0.0, in the arguments' float dtype (the indicator rows)."""
    def indicator(a, b):
        return _indicator(compare(a, b), a, b)

    indicator.__name__ = compare.__name__
    return indicator


_ge, _le, _lt, _gt, _eq, _ne = (_comparison(f) for f in (np.greater_equal, np.less_equal, np.less, np.greater,
                                                          np.equal, np.not_equal))


# The functions users call element by element, name -> implementation. Their arity is written once, in the
# catalog (the count of a row's ``args``); this table must implement exactly the catalog's elementwise and
# selection rows, checked at import.
USER_OPS: dict[str, Callable[..., np.ndarray]] = {
    "sqrt": np.sqrt, "cbrt": np.cbrt, "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
    "log2": np.log2, "log10": np.log10, "pow": np.power, "square": np.square,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh,
    "atanh": np.arctanh, "atan2": np.arctan2, "hypot": np.hypot,
    "erf": _vectorize_libm(math.erf), "erfc": _vectorize_libm(math.erfc), "sigmoid": _sigmoid,
    "softplus": _softplus, "abs": np.abs, "sign": np.sign, "relu": _relu, "floor": np.floor, "ceil": np.ceil,
    "clip": nary.clip, "where": nary.select, "maximum": np.maximum, "minimum": np.minimum,
}
catalog.check_implemented((catalog.ELEMENTWISE, catalog.SELECTION), USER_OPS, "jaccli/numeric.py")

# The internal ops, which users cannot call: name -> (implementation, number of arguments or None for any), the
# arity declared here. ``norm``, ``logsumexp``, ``softmax`` and ``log_softmax`` are the n-ary formulas that a
# reduction or softmax folds its elements into: users call ``norm(v)`` (the catalog's one argument), the kernel
# calls ``norm(v0, v1, ...)``.
HELPER_OPS: dict[str, tuple[Callable[..., np.ndarray], int | None]] = {
    "norm": (_norm, None), "logsumexp": (_logsumexp, None), "softmax": (nary.softmax, None),
    "softmax_rest": (nary.softmax_rest, None), "log_softmax": (nary.log_softmax, None),
    "sech": (_sech, 1), "omtanh": (_omtanh, 1), "omx2": (_omx2, 1), "dsigmoid": (_dsigmoid, 1), "hcos": (_hcos, 2),
    "step": (_step, 1), "ge": (_ge, 2), "le": (_le, 2), "lt": (_lt, 2), "gt": (_gt, 2), "eq": (_eq, 2),
    "ne": (_ne, 2), "inside": (nary.inside, 3), "logpos": (_logpos, 1), "recippos": (_recippos, 1),
}

# name -> (implementation, number of arguments or None for any): every row of ``functions.py``.
ROWS: dict[str, tuple[Callable[..., np.ndarray], int | None]] = {
    **{name: (fn, catalog.CATALOG[name].arity) for name, fn in USER_OPS.items()}, **HELPER_OPS}
NUMPY: dict[str, Callable[..., np.ndarray]] = {name: fn for name, (fn, _) in ROWS.items()}


def _recip(a):
    return 1 / a


def _power(a, b):
    return a**b  # Python's operator: NumPy's fast paths for x**2, x**0.5 (bit-identical to before the split)


# The kernel's arithmetic for SymPy's own nodes. 'ipow' is ``a**b``; the row 'pow' is the user's np.power.
BUILTINS: dict[str, tuple[Callable[..., np.ndarray], int | None]] = {
    "add": (np.add, 2), "sub": (np.subtract, 2), "mul": (np.multiply, 2), "div": (np.divide, 2), "neg": (np.negative, 1),
    "recip": (_recip, 1), "square": (np.square, 1), "ipow": (_power, 2),
}

OPS: dict[str, Callable[..., np.ndarray]] = {**NUMPY, **{name: fn for name, (fn, _) in BUILTINS.items()}}
ARITY: dict[str, int | None] = {**{n: a for n, (_, a) in ROWS.items()}, **{n: a for n, (_, a) in BUILTINS.items()}}
