"""The function table: the single place where an expression function is defined.

One ``Row`` per function (as in HIPS/autograd's ``numpy_vjps.py``): the name users write, how many arguments it
takes, the NumPy implementation the kernel calls (``numeric.NUMPY[name]``: that half lives in ``numeric.py``,
SymPy-free, so that cached plans run without SymPy), the partial derivatives (SymPy expressions built from other
rows, one per argument), and the derivative convention at kinks that the README documents.

Every row becomes a SymPy ``Function`` subclass (``SYMPY[name]``) whose ``fdiff`` is the row's rule, so SymPy
differentiates any composition to any order without ever inventing forms of its own (no ``DiracDelta``, no
``Heaviside``, no ``re``/``im``). Derivative forms are chosen for numerical stability over the whole float64 range:
``tanh' = sech**2`` instead of ``1 - tanh**2``, ``sigmoid' = sigmoid(x)*sigmoid(-x)``, ``atan2`` via ``hypot``.
Rows marked ``internal`` are helpers that derivatives use (``sech``, ``step``...); users cannot call them.

How a derivative *family* is written: a rule returns an expression over rows, and every order follows from the
rules by the chain rule, so a family needs rows that close over differentiation, not one row per order. ``tanh``
closes over ``{tanh, sech}`` (``tanh' = sech**2``, ``sech' = -tanh*sech``). To add ``sinc``, whose closed form
``(cos(x) - sinc(x))/x`` cancels near 0, one would add an internal row for the stable unit (as ``omx2``, ``hcos``
and ``dsigmoid`` are here) whose own rule again returns rows; JAX's ``_sinc_maclaurin(k, x)``, a rule indexed by
the order k, is the other way, for a family that does not close over a few rows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import numpy as np
import sympy

from jaccli.numeric import NUMPY

F = SimpleNamespace()  # SymPy function classes by name; rules below look them up lazily, at derivative time.
half = sympy.Rational(1, 2)


@dataclass(frozen=True)
class Row:
    name: str
    nargs: int | None  # None = any number (the reductions' n-ary helpers)
    numpy: Callable[..., np.ndarray]
    derivative: Callable[..., tuple | _Each | _ByIndex]  # args -> one partial derivative per argument (indexable)
    convention: str  # the derivative, as the README states it
    internal: bool = False
    display: Callable[..., sympy.Expr] | None = None  # how 'jaccli symbolic' spells an internal helper
    args: str = ""  # the arguments as 'jaccli functions' lists them, when not 'x' or 'a, b'
    # A chain rule that is not a sum of products (where: the chosen branch's derivative, selected, so that the
    # other branch's inf/nan never leaks in as 0*inf): (args, derivatives of the args) -> derivative.
    chain: Callable[[tuple, list], sympy.Expr] | None = None


LN2, LN10 = sympy.log(2), sympy.log(10)


# --- identities that let a composition's chain rule cancel exactly ------------------------------------------
# The outer rule is written in terms of its argument u; when u is itself a function whose derivative shares a
# factor with it, say so symbolically, and SymPy's Mul cancels the pair: atanh(tanh(x))' = sech**2/sech**2 = 1
# exactly, where 1/(1 - t**2) with t = tanh(x) rounded would give 0.99999982 at x = -12.5.
def _one_minus_square(u: sympy.Expr) -> sympy.Expr:
    """1 - u**2 (asin, acos, atanh)."""
    if isinstance(u, F.tanh):
        return F.sech(u.args[0]) ** 2
    if isinstance(u, F.sin):
        return F.cos(u.args[0]) ** 2
    if isinstance(u, F.cos):
        return F.sin(u.args[0]) ** 2
    return F.omx2(u)


def _one_plus(u: sympy.Expr) -> sympy.Expr:
    """1 + u (log1p): 1 + tanh(v) = sech(v)**2/(1 - tanh(v)), so log1p(tanh(x))' is 1 - tanh(x), computed stably."""
    if isinstance(u, F.tanh):
        return F.sech(u.args[0]) ** 2 / F.omtanh(u.args[0])
    return 1 + u


def _minus_one(u: sympy.Expr) -> sympy.Expr:
    """u - 1 (acosh): cosh(v) - 1 = 2*sinh(v/2)**2, without the cancellation near v = 0."""
    if isinstance(u, F.cosh):
        return 2 * F.sinh(u.args[0] / 2) ** 2
    return u - 1



class _Each:
    """Partials of a symmetric n-ary function, built on demand: ``rule(v[i], f(*v))`` for argument i.

    A tuple of all n partials would cost O(n) SymPy constructions per derivative step."""

    def __init__(self, args: tuple, rule: Callable, name: str) -> None:
        self.args, self.rule, self.name = args, rule, name

    def __getitem__(self, i: int) -> sympy.Expr:
        return self.rule(self.args[i], getattr(F, self.name)(*self.args))


class _ByIndex:
    """Partials of an n-ary function that depend on the argument's position: ``rule(args, i)``, on demand."""

    def __init__(self, args: tuple, rule: Callable[[tuple, int], sympy.Expr]) -> None:
        self.args, self.rule = args, rule

    def __getitem__(self, i: int) -> sympy.Expr:
        return self.rule(self.args, i)


def _rotated(v: tuple, j: int) -> tuple:
    """The arguments with v[j] first: softmax(*_rotated(v, j)) is component j of softmax(v)."""
    return v[j:] + v[:j]


def _dsoftmax(v: tuple, i: int) -> sympy.Expr:
    if i == 0:
        return F.softmax(*v) * F.softmax_rest(*v)
    return -F.softmax(*v) * F.softmax(*_rotated(v, i))


def _choose(c: sympy.Expr, a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    return a if a == b else F.where(c, a, b)


ROWS: list[Row] = [
    # --- powers, roots, exponentials, logarithms
    Row("sqrt", 1, NUMPY["sqrt"], lambda x: (half / F.sqrt(x),), "1/(2*sqrt(x)); sqrt'(0) = inf"),
    Row("cbrt", 1, NUMPY["cbrt"], lambda x: (1 / (3 * F.cbrt(x) ** 2),), "1/(3*cbrt(x)**2); inf at 0"),
    Row("exp", 1, NUMPY["exp"], lambda x: (F.exp(x),), "exp(x)"),
    Row("expm1", 1, NUMPY["expm1"], lambda x: (F.exp(x),), "exp(x)"),
    Row("log", 1, NUMPY["log"], lambda x: (1 / x,), "1/x"),
    Row("log1p", 1, NUMPY["log1p"], lambda x: (1 / _one_plus(x),), "1/(1+x)"),
    Row("log2", 1, NUMPY["log2"], lambda x: (1 / (x * LN2),), "1/(x*log(2))"),
    Row("log10", 1, NUMPY["log10"], lambda x: (1 / (x * LN10),), "1/(x*log(10))"),
    Row("pow", 2, NUMPY["pow"], lambda a, b: (b * F.pow(a, b - 1), F.pow(a, b) * F.logpos(a)),
        "d/da = b*a**(b-1); d/db = a**b*log(a) where a > 0, else 0 (TF)"),
    Row("square", 1, NUMPY["square"], lambda x: (2 * x,), "2*x"),
    # --- trigonometric and hyperbolic
    Row("sin", 1, NUMPY["sin"], lambda x: (F.cos(x),), "cos(x)"),
    Row("cos", 1, NUMPY["cos"], lambda x: (-F.sin(x),), "-sin(x)"),
    Row("tan", 1, NUMPY["tan"], lambda x: (1 / F.cos(x) ** 2,), "1/cos(x)**2"),
    Row("asin", 1, NUMPY["asin"], lambda x: (1 / F.sqrt(_one_minus_square(x)),), "1/sqrt(1-x**2)"),
    Row("acos", 1, NUMPY["acos"], lambda x: (-1 / F.sqrt(_one_minus_square(x)),), "-1/sqrt(1-x**2)"),
    Row("atan", 1, NUMPY["atan"], lambda x: (F.hcos(1, x) ** 2,), "1/(1+x**2)"),
    Row("sinh", 1, NUMPY["sinh"], lambda x: (F.cosh(x),), "cosh(x)"),
    Row("cosh", 1, NUMPY["cosh"], lambda x: (F.sinh(x),), "sinh(x)"),
    Row("tanh", 1, NUMPY["tanh"], lambda x: (F.sech(x) ** 2,),
        "sech(x)**2 (stays accurate where 1-tanh**2 rounds to 0)"),
    Row("asinh", 1, NUMPY["asinh"], lambda x: (F.hcos(1, x),), "1/hypot(x, 1)"),
    Row("acosh", 1, NUMPY["acosh"], lambda x: (1 / (F.sqrt(_minus_one(x)) * F.sqrt(x + 1)),),
        "1/(sqrt(x-1)*sqrt(x+1))"),
    Row("atanh", 1, NUMPY["atanh"], lambda x: (1 / _one_minus_square(x),), "1/(1-x**2)"),
    Row("atan2", 2, NUMPY["atan2"], lambda y, x: (F.hcos(x, y) / F.hypot(y, x), -F.hcos(y, x) / F.hypot(y, x)),
        "d/dy = x/hypot(y,x)**2, d/dx = -y/hypot(y,x)**2", args="y, x"),
    Row("hypot", 2, NUMPY["hypot"], lambda a, b: (F.hcos(a, b), F.hcos(b, a)),
        "d/da = a/hypot(a,b), d/db = b/hypot(a,b)"),
    # --- special functions
    Row("erf", 1, NUMPY["erf"], lambda x: (2 / sympy.sqrt(sympy.pi) * F.exp(-x**2),),
        "2/sqrt(pi)*exp(-x**2)"),
    Row("erfc", 1, NUMPY["erfc"], lambda x: (-2 / sympy.sqrt(sympy.pi) * F.exp(-x**2),),
        "-2/sqrt(pi)*exp(-x**2)"),
    Row("sigmoid", 1, NUMPY["sigmoid"], lambda x: (F.dsigmoid(x),),
        "sigmoid(x)*sigmoid(-x); exact 0 limits at x = ±1000"),
    Row("softplus", 1, NUMPY["softplus"], lambda x: (F.sigmoid(x),), "sigmoid(x)"),
    # --- kinks: TensorFlow's conventions
    Row("abs", 1, NUMPY["abs"], lambda x: (F.sign(x),), "sign(x); abs'(0) = 0"),
    Row("sign", 1, NUMPY["sign"], lambda x: (0,), "0 everywhere (also at 0)"),
    Row("relu", 1, NUMPY["relu"], lambda x: (F.step(x),), "1 where x > 0, else 0; relu'(0) = 0"),
    Row("floor", 1, NUMPY["floor"], lambda x: (0,), "0 everywhere"),
    Row("ceil", 1, NUMPY["ceil"], lambda x: (0,), "0 everywhere"),
    Row("clip", 3, NUMPY["clip"], lambda x, lo, hi: (F.inside(x, lo, hi), F.lt(x, lo), F.gt(x, hi)),
        "1 where lo <= x <= hi (bounds included), else 0; d/dlo = 1 where x < lo, d/dhi = 1 where x > hi "
        "(TF's clip_by_value)", args="x, lo, hi"),
    Row("where", 3, NUMPY["where"], lambda c, a, b: (0, _choose(c, 1, 0), _choose(c, 0, 1)),
        "the chosen branch's derivative, selected (the other branch's inf/nan never leaks in); none through the "
        "condition; a tie is what the comparison says (x >= 0 at 0 is true)",
        args="a < b, then, otherwise", chain=lambda args, d: _choose(args[0], d[1], d[2])),
    Row("maximum", 2, NUMPY["maximum"], lambda a, b: (F.ge(a, b), 1 - F.ge(a, b)),
        "to a where a >= b, else to b (a tie goes to a)"),
    Row("minimum", 2, NUMPY["minimum"], lambda a, b: (F.le(a, b), 1 - F.le(a, b)),
        "to a where a <= b, else to b (a tie goes to a)"),
    # --- n-ary helpers behind the reductions norm(v) and logsumexp(v)
    Row("norm", None, NUMPY["norm"], lambda *v: _Each(v, lambda a, whole: a / whole, "norm"),
        "x/norm(x); nan at x = 0", True),
    Row("logsumexp", None, NUMPY["logsumexp"], lambda *v: _Each(v, lambda a, whole: F.exp(a - whole), "logsumexp"),
        "softmax(x) = exp(x - logsumexp(x))", True),
    # softmax(v0, v1, ...) is the component of v0 (softmax(v) over an axis calls it once per component, rotated)
    Row("softmax", None, NUMPY["softmax"], lambda *v: _ByIndex(v, _dsoftmax),
        "softmax_i*(delta_ij - softmax_j), with 1 - softmax_i as the sum of the others", True),
    Row("softmax_rest", None, NUMPY["softmax_rest"],
        lambda *v: _ByIndex(v, lambda a, i: -_dsoftmax(a, i)), "-d softmax", True),
    Row("log_softmax", None, NUMPY["log_softmax"],
        lambda *v: _ByIndex(v, lambda a, i: F.softmax_rest(*a) if i == 0 else -F.softmax(*_rotated(a, i))),
        "delta_ij - softmax_j", True),
    # --- internal helpers that derivative rules use
    Row("sech", 1, NUMPY["sech"], lambda x: (-F.tanh(x) * F.sech(x),), "-tanh(x)*sech(x)", True),
    Row("omtanh", 1, NUMPY["omtanh"], lambda x: (-F.sech(x) ** 2,), "-sech(x)**2", True, lambda x: 1 - F.tanh(x)),
    # 1 - x**2 as one unit, so its derivative is -2x exactly: (1/(1-x) + 1/(1+x)) would cancel near 0.
    Row("omx2", 1, NUMPY["omx2"], lambda x: (-2 * x,), "-2x", True, lambda x: 1 - x**2),
    # sigmoid' as one unit with derivative -tanh(x/2)*sigmoid': sigmoid(-x) - sigmoid(x) would cancel near 0.
    Row("dsigmoid", 1, NUMPY["dsigmoid"], lambda x: (-F.tanh(x / 2) * F.dsigmoid(x),),
        "-tanh(x/2)*dsigmoid(x)", True, lambda x: F.sigmoid(x) * F.sigmoid(-x)),
    # a/hypot(a, b) as one unit: its derivatives (b/h)**2/h and -(a/h)(b/h)/h never overflow or cancel, where
    # 1/h - a**2/h**3 cancels for |a| >> |b| and x/hypot**2 overflows past 1e154 (atan, asinh, atan2, hypot).
    Row("hcos", 2, NUMPY["hcos"],
        lambda a, b: (F.hcos(b, a) ** 2 / F.hypot(a, b), -F.hcos(a, b) * F.hcos(b, a) / F.hypot(a, b)),
        "d/da = (b/h)**2/h, d/db = -(a/h)*(b/h)/h", True,
        lambda a, b: a / F.hypot(*sorted((a, b), key=sympy.default_sort_key))),
    Row("step", 1, NUMPY["step"], lambda x: (0,), "0", True),
    Row("ge", 2, NUMPY["ge"], lambda a, b: (0, 0), "0", True),
    Row("le", 2, NUMPY["le"], lambda a, b: (0, 0), "0", True),
    Row("lt", 2, NUMPY["lt"], lambda a, b: (0, 0), "0", True),
    Row("gt", 2, NUMPY["gt"], lambda a, b: (0, 0), "0", True),
    Row("eq", 2, NUMPY["eq"], lambda a, b: (0, 0), "0", True),
    Row("ne", 2, NUMPY["ne"], lambda a, b: (0, 0), "0", True),
    Row("inside", 3, NUMPY["inside"], lambda x, lo, hi: (0, 0, 0), "0", True),
    Row("logpos", 1, NUMPY["logpos"], lambda x: (F.recippos(x),), "1/x where x > 0, else 0", True),
    Row("recippos", 1, NUMPY["recippos"], lambda x: (-F.recippos(x) ** 2,), "-1/x**2 where x > 0, else 0", True),
]

TABLE: dict[str, Row] = {row.name: row for row in ROWS}
ELEMENTWISE: dict[str, Row] = {row.name: row for row in ROWS if not row.internal}
REDUCTIONS = ("sum", "prod", "mean", "norm", "logsumexp", "dot")  # built from lane moves: expr/shaped.py
COMPARISONS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}  # where's condition
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
                values = [math.inf if a is sympy.zoo else float(a) for a in args]  # zoo (1/0): inf, as kernels
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
