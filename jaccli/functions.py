"""The function table: the single place where a function's derivative is defined.

One ``Row`` per function (as in HIPS/autograd's ``numpy_vjps.py``): its name, the NumPy implementation the kernel
calls (``numeric.NUMPY[name]``: that half lives in ``numeric.py``, SymPy-free, so that cached plans run without
SymPy) and the partial derivatives (SymPy expressions built from other rows, one per argument). What users see of
a function they can call (its arguments, its kind, the derivative convention at kinks that the README documents)
is its row in ``catalog.py``, the SymPy-free list of every callable function; a catalog row of an elementwise or
selection kind without a row here fails at import.

Every row becomes a SymPy ``Function`` subclass (``SYMPY[name]``) whose ``fdiff`` is the row's rule, so SymPy
differentiates any composition to any order without ever inventing forms of its own (no ``DiracDelta``, no
``Heaviside``, no ``re``/``im``). Derivative forms are chosen for numerical stability over the whole float64 range:
``tanh' = sech**2`` instead of ``1 - tanh**2``, ``sigmoid' = sigmoid(x)*sigmoid(-x)``, ``atan2`` via ``hypot``.
Rows made by ``helper`` are internal: formulas that derivatives use (``sech``, ``step``...) and the n-ary formulas
that reductions and softmax fold their elements into (``norm(v0, v1, ...)``); users cannot call them.

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

from jaccli import catalog
from jaccli.numeric import ARITY, NUMPY

F = SimpleNamespace()  # SymPy function classes by name; rules below look them up lazily, at derivative time.
half = sympy.Rational(1, 2)


@dataclass(frozen=True)
class Helper:
    """What an internal row declares itself: a function users call takes its words from its catalog row. (Its
    argument count, None for any number, is its NumPy op's: ``numeric.ARITY``.)"""

    note: str = ""  # its derivative, for readers; empty: the catalog row of the same name says it (norm...)
    display: Callable[..., sympy.Expr] | None = None  # how 'jaccli symbolic' spells it


@dataclass(frozen=True)
class Row:
    """One function's derivative rule. Its NumPy op and argument count are ``numeric.py``'s (which takes a callable
    function's count from its catalog row); ``convention`` is the catalog's words, or ``helper``'s for an internal
    row."""

    name: str
    derivative: Callable[..., tuple | _Each | _ByIndex]  # args -> one partial derivative per argument (indexable)
    # A chain rule that is not a sum of products (where: the chosen branch's derivative, selected, so that the
    # other branch's inf/nan never leaks in): (args, derivatives of the args) -> derivative.
    chain: Callable[[tuple, list], sympy.Expr] | None = None
    helper: Helper | None = None  # set on internal rows only

    @property
    def internal(self) -> bool:
        return self.helper is not None

    @property
    def numpy(self) -> Callable[..., np.ndarray]:
        return NUMPY[self.name]

    @property
    def nargs(self) -> int | None:
        return ARITY[self.name]

    @property
    def convention(self) -> str:
        """The derivative as the README states it (the catalog's words for every function users call)."""
        return self.helper.note if self.helper and self.helper.note else catalog.CATALOG[self.name].convention

    @property
    def display(self) -> Callable[..., sympy.Expr] | None:
        return self.helper.display if self.helper else None


def helper(name: str, derivative: Callable, note: str = "", display: Callable[..., sympy.Expr] | None = None) -> Row:
    """An internal row: a helper that derivative rules (or the reductions' formulas) use; users cannot call it."""
    return Row(name, derivative, helper=Helper(note, display))


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
    Row("sqrt", lambda x: (half / F.sqrt(x),)),
    Row("cbrt", lambda x: (1 / (3 * F.cbrt(x) ** 2),)),
    Row("exp", lambda x: (F.exp(x),)),
    Row("expm1", lambda x: (F.exp(x),)),
    Row("log", lambda x: (1 / x,)),
    Row("log1p", lambda x: (1 / _one_plus(x),)),
    Row("log2", lambda x: (1 / (x * LN2),)),
    Row("log10", lambda x: (1 / (x * LN10),)),
    Row("pow", lambda a, b: (b * F.pow(a, b - 1), F.pow(a, b) * F.logpos(a))),
    Row("square", lambda x: (2 * x,)),
    # --- trigonometric and hyperbolic
    Row("sin", lambda x: (F.cos(x),)),
    Row("cos", lambda x: (-F.sin(x),)),
    Row("tan", lambda x: (1 / F.cos(x) ** 2,)),
    Row("asin", lambda x: (1 / F.sqrt(_one_minus_square(x)),)),
    Row("acos", lambda x: (-1 / F.sqrt(_one_minus_square(x)),)),
    Row("atan", lambda x: (F.hcos(1, x) ** 2,)),
    Row("sinh", lambda x: (F.cosh(x),)),
    Row("cosh", lambda x: (F.sinh(x),)),
    Row("tanh", lambda x: (F.sech(x) ** 2,)),
    Row("asinh", lambda x: (F.hcos(1, x),)),
    Row("acosh", lambda x: (1 / (F.sqrt(_minus_one(x)) * F.sqrt(x + 1)),)),
    Row("atanh", lambda x: (1 / _one_minus_square(x),)),
    Row("atan2", lambda y, x: (F.hcos(x, y) / F.hypot(y, x), -F.hcos(y, x) / F.hypot(y, x))),
    Row("hypot", lambda a, b: (F.hcos(a, b), F.hcos(b, a))),
    # --- special functions
    Row("erf", lambda x: (2 / sympy.sqrt(sympy.pi) * F.exp(-x**2),)),
    Row("erfc", lambda x: (-2 / sympy.sqrt(sympy.pi) * F.exp(-x**2),)),
    Row("sigmoid", lambda x: (F.dsigmoid(x),)),
    Row("softplus", lambda x: (F.sigmoid(x),)),
    # --- kinks: TensorFlow's conventions
    Row("abs", lambda x: (F.sign(x),)),
    Row("sign", lambda x: (0,)),
    Row("relu", lambda x: (F.step(x),)),
    Row("floor", lambda x: (0,)),
    Row("ceil", lambda x: (0,)),
    Row("clip", lambda x, lo, hi: (F.inside(x, lo, hi), F.lt(x, lo), F.gt(x, hi))),
    Row("where", lambda c, a, b: (0, _choose(c, 1, 0), _choose(c, 0, 1)),
        chain=lambda args, d: _choose(args[0], d[1], d[2])),
    Row("maximum", lambda a, b: (F.ge(a, b), 1 - F.ge(a, b))),
    Row("minimum", lambda a, b: (F.le(a, b), 1 - F.le(a, b))),
    # --- n-ary helpers behind the reductions norm(v), logsumexp(v) (their convention is the catalog row's)
    helper("norm", lambda *v: _Each(v, lambda a, whole: a / whole, "norm")),
    helper("logsumexp", lambda *v: _Each(v, lambda a, whole: F.exp(a - whole), "logsumexp")),
    # softmax(v0, v1, ...) is the component of v0 (softmax(v) over an axis calls it once per component, rotated)
    helper("softmax", lambda *v: _ByIndex(v, _dsoftmax)),
    helper("softmax_rest", lambda *v: _ByIndex(v, lambda a, i: -_dsoftmax(a, i)), "-d softmax"),
    helper("log_softmax",
           lambda *v: _ByIndex(v, lambda a, i: F.softmax_rest(*a) if i == 0 else -F.softmax(*_rotated(a, i)))),
    # --- internal helpers that derivative rules use
    helper("sech", lambda x: (-F.tanh(x) * F.sech(x),), "-tanh(x)*sech(x)"),
    helper("omtanh", lambda x: (-F.sech(x) ** 2,), "-sech(x)**2", lambda x: 1 - F.tanh(x)),
    # 1 - x**2 as one unit, so its derivative is -2x exactly: (1/(1-x) + 1/(1+x)) would cancel near 0.
    helper("omx2", lambda x: (-2 * x,), "-2x", lambda x: 1 - x**2),
    # sigmoid' as one unit with derivative -tanh(x/2)*sigmoid': sigmoid(-x) - sigmoid(x) would cancel near 0.
    helper("dsigmoid", lambda x: (-F.tanh(x / 2) * F.dsigmoid(x),),
           "-tanh(x/2)*dsigmoid(x)", lambda x: F.sigmoid(x) * F.sigmoid(-x)),
    # a/hypot(a, b) as one unit: its derivatives (b/h)**2/h and -(a/h)(b/h)/h never overflow or cancel, where
    # 1/h - a**2/h**3 cancels for |a| >> |b| and x/hypot**2 overflows past 1e154 (atan, asinh, atan2, hypot).
    helper("hcos", lambda a, b: (F.hcos(b, a) ** 2 / F.hypot(a, b), -F.hcos(a, b) * F.hcos(b, a) / F.hypot(a, b)),
           "d/da = (b/h)**2/h, d/db = -(a/h)*(b/h)/h",
           lambda a, b: a / F.hypot(*sorted((a, b), key=sympy.default_sort_key))),
    helper("step", lambda x: (0,), "0"),
    helper("ge", lambda a, b: (0, 0), "0"),
    helper("le", lambda a, b: (0, 0), "0"),
    helper("lt", lambda a, b: (0, 0), "0"),
    helper("gt", lambda a, b: (0, 0), "0"),
    helper("eq", lambda a, b: (0, 0), "0"),
    helper("ne", lambda a, b: (0, 0), "0"),
    helper("inside", lambda x, lo, hi: (0, 0, 0), "0"),
    helper("logpos", lambda x: (F.recippos(x),), "1/x where x > 0, else 0"),
    helper("recippos", lambda x: (-F.recippos(x) ** 2,), "-1/x**2 where x > 0, else 0"),
]

TABLE: dict[str, Row] = {row.name: row for row in ROWS}
ELEMENTWISE: dict[str, Row] = {row.name: row for row in ROWS if not row.internal}  # what users call, by element
catalog.check_implemented((catalog.ELEMENTWISE, catalog.SELECTION), ELEMENTWISE, "jaccli/functions.py")
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
