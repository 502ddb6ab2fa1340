"""The catalog: every function a user can call, one ``Signature`` row each, and nothing users cannot call.

A row says what a reader of an expression needs: the function's *kind*, its arguments as users write them (their
count is its arity), whether it takes ``axis=`` and what that defaults to, its derivative convention as the README
states it, and for reductions whether it *folds* all its elements into one formula. Everything that checks or
shows a call reads these rows and nothing else: the parser (``where``'s comparison), the tracer (unknown names,
arity, ``axis=`` and its default, which implementation a call goes to), ``expr/shaped.py`` (the fold limit), the
IR's declared primitives, ``jaccli functions`` and, through a test, the README's function table.

The kinds, and where each kind's implementation lives (looked up by name; each of those tables checks at import
that it implements exactly the catalog's rows of its kinds):

- ``elementwise`` (``sin``, ``atan2``, ``maximum``) and ``selection`` (``where``, ``clip``: one argument chosen or
  bounded by the others): applied element by element with broadcasting; the derivative rule is a row of
  ``functions.py`` (SymPy), the NumPy kernel op a row of ``numeric.py`` (``USER_OPS``). Both take the arity from
  the row here: it is written nowhere else.
- ``reduction`` (``sum``, ``prod``, ``norm``...): one array and ``axis=k`` (default: every event axis); a lane
  move of ``expr/shaped.py`` (``REDUCE``) combines the values along the axis.
- ``shaped`` (``softmax``, ``dot``, ``matmul``): whole axes in, an array out; a lane move of ``expr/shaped.py``
  (``MOVES``), which also says how large a value it builds (the tracer's budget charges that first).

Why here: the parser and ``jaccli functions`` need the rows but not SymPy (``jaccli functions`` answers without
loading it), and the tracer, the IR and ``functions.py`` (all of which import SymPy) need them too; the earliest
stage they share is stage 0, so the catalog is a SymPy-free stage-0 module beside ``numeric.py``.

Adding a reduction, say ``sumsq(v, axis=k)`` (the sum of squares): one row here,
``Signature("sumsq", REDUCTION, "v", "2*v for every element", axis=True)``, and its lane move in
``expr/shaped.py``, ``"sumsq": Reduce(each=lambda u: u**2)`` (a sum of a function of each value, which never
folds); a reduction that is one n-argument formula (like ``logsumexp``) says ``folds=True`` here and
``Reduce(fold=F.name)`` there, with the n-ary formula as an internal row of ``functions.py`` (and its NumPy op
in ``numeric.py``). The tracer's checks, the IR's primitive, ``jaccli functions`` and the README test then know
it; the README's function table needs its line (the test says which).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

ELEMENTWISE, SELECTION, REDUCTION, SHAPED = "elementwise", "selection", "reduction", "shaped"
KINDS = (ELEMENTWISE, SELECTION, REDUCTION, SHAPED)


@dataclass(frozen=True)
class Signature:
    """One function as users call it."""

    name: str
    kind: str  # one of KINDS
    args: str  # the array arguments as users write them ('x', 'a, b', 'y, x', 'v'); their count is the arity
    convention: str  # the derivative, as the README states it
    axis: bool = False  # takes axis=k (an integer literal)
    default_axis: int | None = None  # the axis without axis=; None: every event axis at once
    folds: bool = False  # one formula with an argument per element: at most shaped.MAX_FOLD_ELEMENTS of them
    condition: bool = False  # the first argument is one comparison (where(a < b, ...)), not a value

    @property
    def arity(self) -> int:
        return self.args.count(",") + 1

    @property
    def elementwise(self) -> bool:
        """Computed element by element (with broadcasting): a row of ``functions.py`` gives its derivative."""
        return self.kind in (ELEMENTWISE, SELECTION)

    @property
    def call(self) -> str:
        """How ``jaccli functions`` and the README write a call: ``sum(v, axis=k)``, ``softmax(v, axis=-1)``."""
        axis = f", axis={'k' if self.default_axis is None else self.default_axis}" if self.axis else ""
        return f"{self.name}({self.args}{axis})"


def _unary(name: str, convention: str) -> Signature:
    return Signature(name, ELEMENTWISE, "x", convention)


def _binary(name: str, convention: str, args: str = "a, b") -> Signature:
    return Signature(name, ELEMENTWISE, args, convention)


def _reduction(name: str, convention: str, folds: bool = False) -> Signature:
    return Signature(name, REDUCTION, "v", convention, axis=True, folds=folds)


# Listed in the order 'jaccli functions' prints them.
CATALOG: dict[str, Signature] = {s.name: s for s in [
    # --- elementwise: powers, roots, exponentials, logarithms
    _unary("sqrt", "1/(2*sqrt(x)); sqrt'(0) = inf"),
    _unary("cbrt", "1/(3*cbrt(x)**2); inf at 0"),
    _unary("exp", "exp(x)"),
    _unary("expm1", "exp(x)"),
    _unary("log", "1/x"),
    _unary("log1p", "1/(1+x)"),
    _unary("log2", "1/(x*log(2))"),
    _unary("log10", "1/(x*log(10))"),
    _binary("pow", "d/da = b*a**(b-1); d/db = a**b*log(a) where a > 0, else 0 (TF)"),
    _unary("square", "2*x"),
    # --- elementwise: trigonometric and hyperbolic
    _unary("sin", "cos(x)"),
    _unary("cos", "-sin(x)"),
    _unary("tan", "1/cos(x)**2"),
    _unary("asin", "1/sqrt(1-x**2)"),
    _unary("acos", "-1/sqrt(1-x**2)"),
    _unary("atan", "1/(1+x**2)"),
    _unary("sinh", "cosh(x)"),
    _unary("cosh", "sinh(x)"),
    _unary("tanh", "sech(x)**2 (stays accurate where 1-tanh**2 rounds to 0)"),
    _unary("asinh", "1/hypot(x, 1)"),
    _unary("acosh", "1/(sqrt(x-1)*sqrt(x+1))"),
    _unary("atanh", "1/(1-x**2)"),
    _binary("atan2", "d/dy = x/hypot(y,x)**2, d/dx = -y/hypot(y,x)**2", args="y, x"),
    _binary("hypot", "d/da = a/hypot(a,b), d/db = b/hypot(a,b)"),
    # --- elementwise: special functions
    _unary("erf", "2/sqrt(pi)*exp(-x**2)"),
    _unary("erfc", "-2/sqrt(pi)*exp(-x**2)"),
    _unary("sigmoid", "sigmoid(x)*sigmoid(-x); exact 0 limits at x = ±1000"),
    _unary("softplus", "sigmoid(x)"),
    # --- elementwise: kinks, with TensorFlow's conventions
    _unary("abs", "sign(x); abs'(0) = 0"),
    _unary("sign", "0 everywhere (also at 0)"),
    _unary("relu", "1 where x > 0, else 0; relu'(0) = 0"),
    _unary("floor", "0 everywhere"),
    _unary("ceil", "0 everywhere"),
    # --- selection: one argument chosen or bounded by the others
    Signature("clip", SELECTION, "x, lo, hi", "1 where lo <= x <= hi (bounds included), else 0; d/dlo = 1 where "
              "x < lo, d/dhi = 1 where x > hi (TF's clip_by_value)"),
    Signature("where", SELECTION, "a < b, then, otherwise", "the chosen branch's derivative, selected (the other "
              "branch's inf/nan never leaks in); none through the condition; a tie is what the comparison says "
              "(x >= 0 at 0 is true)", condition=True),
    _binary("maximum", "to a where a >= b, else to b (a tie goes to a)"),
    _binary("minimum", "to a where a <= b, else to b (a tie goes to a)"),
    # --- reductions: one array and axis=k, built from lane moves (expr/shaped.py: REDUCE)
    _reduction("sum", "1 for every element summed"),
    _reduction("mean", "1/n for every element"),
    _reduction("prod", "the product of the other elements", folds=True),
    _reduction("norm", "v/norm(v); nan at v = 0 (as TF)", folds=True),
    _reduction("logsumexp", "softmax(v) = exp(v - logsumexp(v)); exact at ±1000", folds=True),
    # --- shaped: whole axes in, an array out (expr/shaped.py: MOVES)
    Signature("softmax", SHAPED, "v", "softmax_i*(delta_ij - softmax_j), 1 - softmax_i summed from the others (no "
              "cancellation); exact 0/1 limits at ±1000", axis=True, default_axis=-1),
    Signature("log_softmax", SHAPED, "v", "delta_ij - softmax_j; stable at ±1000", axis=True, default_axis=-1),
    Signature("dot", SHAPED, "a, b", "NumPy's dot: the products' sum (vectors: inner product, matrices: matrix "
              "product)"),
    Signature("matmul", SHAPED, "a, b", "NumPy's matmul: matrix products over a stack of matrices, broadcast"),
]}

AXIS_FUNCTIONS = tuple(s.name for s in CATALOG.values() if s.axis)  # the calls that take axis=k


def of_kind(*kinds: str) -> list[str]:
    """The catalog's names of these kinds, in catalog order."""
    return [s.name for s in CATALOG.values() if s.kind in kinds]


def check_implemented(kinds: tuple[str, ...], implemented: Iterable[str], where: str) -> None:
    """Fail at import unless a table that implements ``kinds`` has exactly the catalog's rows of those kinds."""
    names, declared = set(implemented), of_kind(*kinds)
    lacking, strays = [n for n in declared if n not in names], sorted(names - set(declared))
    if lacking:
        raise ImportError(f"{where} has no implementation of {', '.join(lacking)} (jaccli/catalog.py lists them)")
    if strays:
        raise ImportError(f"{where} implements {', '.join(strays)}, which jaccli/catalog.py does not list as "
                          f"{' or '.join(kinds)}: add the catalog row (or make it an internal helper)")
