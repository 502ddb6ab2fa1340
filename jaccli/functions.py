"""The function table: the single place where an expression function is defined.

One ``Row`` per function (as in HIPS/autograd's ``numpy_vjps.py``): the name users write, how many arguments it
takes, the NumPy implementation the kernel calls (defined in the SymPy-free ``numeric.py``, so that cached plans
run without SymPy), the partial derivatives (SymPy expressions built from other rows,
one per argument), and the derivative convention at kinks that the README documents.

Every row becomes a SymPy ``Function`` subclass (``SYMPY[name]``) whose ``fdiff`` is the row's rule, so SymPy
differentiates any composition to any order without ever inventing forms of its own (no ``DiracDelta``, no
``Heaviside``, no ``re``/``im``). Derivative forms are chosen for numerical stability over the whole float64 range:
``tanh' = sech**2`` instead of ``1 - tanh**2``, ``sigmoid' = sigmoid(x)*sigmoid(-x)``, ``atan2`` via ``hypot``.
Rows marked ``internal`` are helpers that derivatives use (``sech``, ``step``...); users cannot call them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable, Optional

import numpy as np
import sympy

from jaccli.numeric import NUMPY as N, register_op

F = SimpleNamespace()  # SymPy function classes by name; rules below look them up lazily, at derivative time.
half = sympy.Rational(1, 2)


@dataclass(frozen=True)
class Row:
    name: str
    nargs: Optional[int]  # None = any number (the reductions' n-ary helpers)
    numpy: Callable[..., np.ndarray]
    derivative: Callable[..., tuple | _Each]  # args -> one partial derivative per argument (indexable)
    convention: str  # the derivative, as the README states it
    internal: bool = False
    display: Optional[Callable[..., sympy.Expr]] = None  # how 'jaccli symbolic' spells an internal helper


LN2, LN10 = sympy.log(2), sympy.log(10)


class _Each:
    """Partials of a symmetric n-ary function, built on demand: ``rule(v[i], f(*v))`` for argument i.

    A tuple of all n partials would cost O(n) SymPy constructions per derivative step."""

    def __init__(self, args: tuple, rule: Callable, name: str) -> None:
        self.args, self.rule, self.name = args, rule, name

    def __getitem__(self, i: int) -> sympy.Expr:
        return self.rule(self.args[i], getattr(F, self.name)(*self.args))

ROWS: list[Row] = [
    # --- powers, roots, exponentials, logarithms
    Row("sqrt", 1, N["sqrt"], lambda x: (half / F.sqrt(x),), "1/(2*sqrt(x)); sqrt'(0) = inf"),
    Row("cbrt", 1, N["cbrt"], lambda x: (1 / (3 * F.cbrt(x) ** 2),), "1/(3*cbrt(x)**2); inf at 0"),
    Row("exp", 1, N["exp"], lambda x: (F.exp(x),), "exp(x)"),
    Row("expm1", 1, N["expm1"], lambda x: (F.exp(x),), "exp(x)"),
    Row("log", 1, N["log"], lambda x: (1 / x,), "1/x"),
    Row("log1p", 1, N["log1p"], lambda x: (1 / (1 + x),), "1/(1+x)"),
    Row("log2", 1, N["log2"], lambda x: (1 / (x * LN2),), "1/(x*log(2))"),
    Row("log10", 1, N["log10"], lambda x: (1 / (x * LN10),), "1/(x*log(10))"),
    Row("pow", 2, N["pow"], lambda a, b: (b * F.pow(a, b - 1), F.pow(a, b) * F.logpos(a)),
        "d/da = b*a**(b-1); d/db = a**b*log(a) where a > 0, else 0 (TF)"),
    # --- trigonometric and hyperbolic
    Row("sin", 1, N["sin"], lambda x: (F.cos(x),), "cos(x)"),
    Row("cos", 1, N["cos"], lambda x: (-F.sin(x),), "-sin(x)"),
    Row("tan", 1, N["tan"], lambda x: (1 / F.cos(x) ** 2,), "1/cos(x)**2"),
    Row("asin", 1, N["asin"], lambda x: (1 / F.sqrt(F.omx2(x)),), "1/sqrt(1-x**2)"),
    Row("acos", 1, N["acos"], lambda x: (-1 / F.sqrt(F.omx2(x)),), "-1/sqrt(1-x**2)"),
    Row("atan", 1, N["atan"], lambda x: (F.hcos(1, x) ** 2,), "1/(1+x**2)"),
    Row("sinh", 1, N["sinh"], lambda x: (F.cosh(x),), "cosh(x)"),
    Row("cosh", 1, N["cosh"], lambda x: (F.sinh(x),), "sinh(x)"),
    Row("tanh", 1, N["tanh"], lambda x: (F.sech(x) ** 2,), "sech(x)**2 (stays accurate where 1-tanh**2 rounds to 0)"),
    Row("asinh", 1, N["asinh"], lambda x: (F.hcos(1, x),), "1/hypot(x, 1)"),
    Row("acosh", 1, N["acosh"], lambda x: (1 / (F.sqrt(x - 1) * F.sqrt(x + 1)),), "1/(sqrt(x-1)*sqrt(x+1))"),
    Row("atanh", 1, N["atanh"], lambda x: (1 / F.omx2(x),), "1/(1-x**2)"),
    Row("atan2", 2, N["atan2"], lambda y, x: (F.hcos(x, y) / F.hypot(y, x), -F.hcos(y, x) / F.hypot(y, x)),
        "atan2(y, x): d/dy = x/hypot(y,x)**2, d/dx = -y/hypot(y,x)**2"),
    Row("hypot", 2, N["hypot"], lambda a, b: (F.hcos(a, b), F.hcos(b, a)), "a/hypot(a,b), b/hypot(a,b)"),
    # --- special functions
    Row("erf", 1, N["erf"], lambda x: (2 / sympy.sqrt(sympy.pi) * F.exp(-x**2),),
        "2/sqrt(pi)*exp(-x**2)"),
    Row("erfc", 1, N["erfc"], lambda x: (-2 / sympy.sqrt(sympy.pi) * F.exp(-x**2),),
        "-2/sqrt(pi)*exp(-x**2)"),
    Row("sigmoid", 1, N["sigmoid"], lambda x: (F.dsigmoid(x),),
        "sigmoid(x)*sigmoid(-x); exact 0 limits at x = ±1000"),
    Row("softplus", 1, N["softplus"], lambda x: (F.sigmoid(x),), "sigmoid(x)"),
    # --- kinks: TensorFlow's conventions
    Row("abs", 1, N["abs"], lambda x: (F.sign(x),), "sign(x); abs'(0) = 0"),
    Row("sign", 1, N["sign"], lambda x: (0,), "0 everywhere (also at 0)"),
    Row("relu", 1, N["relu"], lambda x: (F.step(x),), "1 where x > 0, else 0; relu'(0) = 0"),
    Row("floor", 1, N["floor"], lambda x: (0,), "0 everywhere"),
    Row("ceil", 1, N["ceil"], lambda x: (0,), "0 everywhere"),
    Row("maximum", 2, N["maximum"], lambda a, b: (F.ge(a, b), 1 - F.ge(a, b)),
        "to a where a >= b, else to b (a tie goes to a)"),
    Row("minimum", 2, N["minimum"], lambda a, b: (F.le(a, b), 1 - F.le(a, b)),
        "to a where a <= b, else to b (a tie goes to a)"),
    # --- n-ary helpers behind the reductions norm(v) and logsumexp(v)
    Row("norm", None, N["norm"], lambda *v: _Each(v, lambda a, whole: a / whole, "norm"), "x/norm(x); nan at x = 0", True),
    Row("logsumexp", None, N["logsumexp"], lambda *v: _Each(v, lambda a, whole: F.exp(a - whole), "logsumexp"),
        "softmax(x) = exp(x - logsumexp(x))", True),
    # --- internal helpers that derivative rules use
    Row("sech", 1, N["sech"], lambda x: (-F.tanh(x) * F.sech(x),), "-tanh(x)*sech(x)", True),
    # 1 - x**2 as one unit, so its derivative is -2x exactly: (1/(1-x) + 1/(1+x)) would cancel near 0.
    Row("omx2", 1, N["omx2"], lambda x: (-2 * x,), "-2x", True, lambda x: 1 - x**2),
    # sigmoid' as one unit with derivative -tanh(x/2)*sigmoid': sigmoid(-x) - sigmoid(x) would cancel near 0.
    Row("dsigmoid", 1, N["dsigmoid"], lambda x: (-F.tanh(x / 2) * F.dsigmoid(x),),
        "-tanh(x/2)*dsigmoid(x)", True, lambda x: F.sigmoid(x) * F.sigmoid(-x)),
    # a/hypot(a, b) as one unit: its derivatives (b/h)**2/h and -(a/h)(b/h)/h never overflow or cancel, where
    # 1/h - a**2/h**3 cancels for |a| >> |b| and x/hypot**2 overflows past 1e154 (atan, asinh, atan2, hypot).
    Row("hcos", 2, N["hcos"],
        lambda a, b: (F.hcos(b, a) ** 2 / F.hypot(a, b), -F.hcos(a, b) * F.hcos(b, a) / F.hypot(a, b)),
        "d/da = (b/h)**2/h, d/db = -(a/h)*(b/h)/h", True,
        lambda a, b: a / F.hypot(*sorted((a, b), key=sympy.default_sort_key))),
    Row("step", 1, N["step"], lambda x: (0,), "0", True),
    Row("ge", 2, N["ge"], lambda a, b: (0, 0), "0", True),
    Row("le", 2, N["le"], lambda a, b: (0, 0), "0", True),
    Row("logpos", 1, N["logpos"], lambda x: (F.recippos(x),), "1/x where x > 0, else 0", True),
    Row("recippos", 1, N["recippos"], lambda x: (-F.recippos(x) ** 2,), "-1/x**2 where x > 0, else 0", True),
]

TABLE: dict[str, Row] = {row.name: row for row in ROWS}
for _row in ROWS:  # a row whose implementation is not in numeric.py still runs (its plans just are not cached)
    register_op(_row.name, _row.numpy, _row.nargs)
ELEMENTWISE: dict[str, Row] = {row.name: row for row in ROWS if not row.internal}
REDUCTIONS = ("sum", "prod", "mean", "norm", "logsumexp", "dot")  # implemented structurally in tape.py
CONSTANTS = {"pi": sympy.pi, "e": sympy.E}


def number(value: float) -> sympy.Expr:
    """A float as a SymPy number, with the IEEE specials mapped to their SymPy counterparts."""
    if math.isnan(value):
        return sympy.nan
    if math.isinf(value):
        return sympy.oo if value > 0 else -sympy.oo
    return sympy.Float(value)


def _make_class(row: Row) -> type:
    def fdiff(self, argindex: int = 1):
        return sympy.sympify(row.derivative(*self.args)[argindex - 1])

    def eval(cls, *args):  # noqa: A001 - SymPy's hook name
        # Fold functions of numbers in float64, as a numeric framework would; never exact big arithmetic.
        if args and all(a.is_number for a in args):
            try:
                values = [float(a) for a in args]
            except (TypeError, ValueError):
                return None  # complex constants (cannot arise from the parser) stay symbolic
            with np.errstate(all="ignore"):
                return number(float(row.numpy(*values)))
        return None

    attrs = {"fdiff": fdiff, "eval": classmethod(eval), "jaccli_row": row}
    if row.nargs is not None:
        attrs["nargs"] = row.nargs
    return type(row.name, (sympy.Function,), attrs)


SYMPY: dict[str, type] = {row.name: _make_class(row) for row in ROWS}


def for_display(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with the internal helpers that have a plain spelling (``omx2(x)`` -> ``1 - x**2``) spelled out."""
    def is_helper(e: sympy.Expr) -> bool:
        row = getattr(type(e), "jaccli_row", None)
        return row is not None and row.display is not None

    return expr.replace(is_helper, lambda e: type(e).jaccli_row.display(*e.args))
for _name, _cls in SYMPY.items():
    setattr(F, _name, _cls)
