"""The functions that work on whole axes, built from lane moves (``field.gather``) and one template per lane kind.

Reductions along an axis, softmax, ``dot`` and ``matmul`` never write one formula per output element: the values
along the axis are split into n aligned fields (``along``) and combined elementwise, so ``sum(v**2, axis=-1)``
over 400 rows is one n-slot template on 400 lanes, and ``softmax`` feeds every component its own row *rotated*
(component i sees ``v_i, v_i+1, ..., v_i-1``), so all components share the one template ``softmax(s0, .., sn-1)``.

What users see of each function (its kind, arguments, ``axis=`` default, whether it folds) is its row in
``catalog.py``; this module holds only the lane moves, ``REDUCE`` for the reductions and ``MOVES`` for the other
shaped functions, both checked against the catalog at import (the recipe for a new reduction is in its docstring).
Shape problems raise ``ShapeError``; the tracer adds the caret.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy

from jaccli.catalog import CATALOG, REDUCTION, SHAPED, check_implemented, of_kind
from jaccli.expr import field as fl
from jaccli.expr.field import Field
from jaccli.functions import F


MAX_FOLD_ELEMENTS = 50_000  # a reduction that folds (catalog: folds=True) is one formula, an argument an element


class ShapeError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _ids(f: Field) -> np.ndarray:
    return np.arange(f.size, dtype=np.int64).reshape(f.shape)


def normalize_axis(axis: int, ndim: int, name: str) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{name}: axis {axis} is out of bounds for a value with {ndim} axes",
                         hint=f"axes are 0..{ndim - 1} (or -{ndim}..-1)" if ndim else "a scalar has no axes")
    return axis % ndim


def along(f: Field, axis: int) -> list[Field]:
    """The n values along ``axis``, each a field of the remaining shape: ``[f[..., 0, ...], f[..., 1, ...], ...]``."""
    ids = np.moveaxis(_ids(f), axis, -1)
    return [fl.gather(f, ids[..., j]) for j in range(f.shape[axis])]


@dataclass(frozen=True)
class Reduce:
    """A reduction's lane move: how the n values along an axis (or all values, without ``axis=``) become one."""

    fold: Callable[..., sympy.Expr] | None = None  # one formula of all n values (its catalog row says folds=True)
    scale: Callable[[int], sympy.Expr] | None = None  # not folding: a sum, times scale(n) (mean: 1/n)
    empty: sympy.Expr | None = None  # the value over no elements; None refuses them
    each: Callable[[sympy.Expr], sympy.Expr] | None = None  # not folding: a sum of each(v) instead of v


REDUCE: dict[str, Reduce] = {
    "sum": Reduce(empty=sympy.Integer(0)),
    "mean": Reduce(scale=lambda n: sympy.Rational(1, n)),
    "prod": Reduce(fold=sympy.Mul, empty=sympy.Integer(1)),
    "norm": Reduce(fold=F.norm),
    "logsumexp": Reduce(fold=F.logsumexp),
}


def reduce(name: str, f: Field, axis: int | None) -> Field:
    """The reduction ``name`` (a key of ``REDUCE``) over all axes (``axis=None``) or one axis."""
    r = REDUCE[name]
    if r.each is not None:
        f = fl.combine(r.each, [f], f.shape)
    ax = None if axis is None else normalize_axis(axis, len(f.shape), name)
    n, shape = (f.size, ()) if ax is None else (f.shape[ax], f.shape[:ax] + f.shape[ax + 1:])
    if n == 0 and r.empty is None:
        raise ShapeError(f"{name}() of an empty value" if ax is None else f"{name}() over an empty axis ({axis})",
                         hint=f"{name}() needs at least one element: check the slice or the axis")
    if r.fold is None:
        total = fl.reduce_sum(f) if ax is None else fl.reduce_sum(f, ax)
        return total if r.scale is None else fl.scale(total, r.scale(n))
    if ax is None:
        return fl.fold_all(r.fold, f)
    if n == 0:
        return fl.broadcast_to(fl.constant(r.empty), shape)
    op = r.fold
    return fl.combine(lambda *a: op(*a), along(f, ax), shape)


def softmax(f: Field, axis: int, log: bool) -> Field:
    """``softmax`` / ``log_softmax`` along ``axis``: one template over all components (see the module docstring)."""
    name = "log_softmax" if log else "softmax"
    ax = normalize_axis(axis, len(f.shape), name)
    n = f.shape[ax]
    if n == 0:
        return f
    ids = np.moveaxis(_ids(f), ax, -1)
    rotated = [fl.gather(f, np.moveaxis(np.roll(ids, -k, axis=-1), -1, ax)) for k in range(n)]
    op = getattr(F, name)
    return fl.combine(lambda *a: op(*a), rotated, f.shape)


def contract(a: Field, b: Field) -> Field:
    """``sum(a * b, axis=-1)`` with NumPy broadcasting: callers first bring the summed axis last in both."""
    shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    return fl.reduce_sum(fl.combine(sympy.Mul, [a, b], shape), axis=len(shape) - 1)


def dot(a: Field, b: Field) -> Field:
    """NumPy's ``dot``: scalars multiply; otherwise a's last axis meets b's second-to-last (or only) axis."""
    if a.shape == () or b.shape == ():
        return fl.combine(sympy.Mul, [a, b], tuple(np.broadcast_shapes(a.shape, b.shape)))
    if len(b.shape) >= 2:
        b = fl.moveaxis(b, -2, -1)
    k = a.shape[-1]
    if b.shape[-1] != k:
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} are not aligned",
                         hint="dot(a, b) sums over the last axis of a and the second-to-last of b")
    lead_a, lead_b = a.shape[:-1], b.shape[:-1]
    a = fl.gather(a, _ids(a).reshape(lead_a + (1,) * len(lead_b) + (k,)))
    return contract(a, b)


def matmul(a: Field, b: Field) -> Field:
    """NumPy's ``matmul``: stacks of matrices, leading axes broadcast; a 1-d operand is a row (a) or column (b)."""
    if a.shape == () or b.shape == ():
        raise ShapeError("matmul: scalar operands are not allowed", hint="use * to scale")
    va, vb = len(a.shape) == 1, len(b.shape) == 1
    sa = (1,) + a.shape if va else a.shape
    sb = b.shape + (1,) if vb else b.shape
    if sa[-1] != sb[-2]:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} are not aligned",
                         hint="matmul(a, b) sums over the last axis of a and the second-to-last of b")
    try:
        lead = tuple(np.broadcast_shapes(sa[:-2], sb[:-2]))
    except ValueError:
        raise ShapeError(f"matmul: the stacks {sa[:-2]} and {sb[:-2]} do not broadcast",
                         hint="the axes before the last two follow NumPy's broadcasting rules") from None
    n, k, m = sa[-2], sa[-1], sb[-1]
    ia = np.broadcast_to(_ids(a).reshape(sa), lead + (n, k))[..., :, None, :]  # (..., n, 1, k)
    ib = np.moveaxis(np.broadcast_to(_ids(b).reshape(sb), lead + (k, m)), -2, -1)[..., None, :, :]  # (..., 1, m, k)
    out = contract(fl.gather(a, ia), fl.gather(b, ib))  # (..., n, m)
    if va or vb:
        drop = tuple(s for i, s in enumerate(out.shape) if not ((va and i == len(lead)) or
                                                             (vb and i == len(lead) + 1)))
        out = fl.gather(out, _ids(out).reshape(drop))
    return out


def _largest(args: list[Field]) -> tuple[int, ...]:
    return max((f.shape for f in args), key=math.prod)


def _dot_work(args: list[Field]) -> tuple[int, ...]:
    """dot builds its products' lanes (the sum's terms) before it sums them."""
    a, b = args
    if not (a.shape and b.shape):
        return _largest(args)
    lead_b = b.shape[:-2] + b.shape[-1:] if len(b.shape) >= 2 else ()
    return a.shape[:-1] + lead_b + a.shape[-1:]


@dataclass(frozen=True)
class Move:
    """A shaped function's lane move: ``build(args, axis)``, and the shape of the largest value it builds."""

    build: Callable[[list[Field], int | None], Field]
    work: Callable[[list[Field]], tuple[int, ...]] = _largest


MOVES: dict[str, Move] = {
    "softmax": Move(lambda args, axis: softmax(args[0], axis, log=False)),
    "log_softmax": Move(lambda args, axis: softmax(args[0], axis, log=True)),
    "dot": Move(lambda args, axis: dot(args[0], args[1]), _dot_work),
    "matmul": Move(lambda args, axis: matmul(args[0], args[1])),
}


def work_shape(name: str, args: list[Field]) -> tuple[int, ...]:
    """The largest value the call builds, charged to the budget before it is built: reductions and softmax
    build no more elements than they read."""
    return MOVES[name].work(args) if name in MOVES else _largest(args)


def call(name: str, args: list[Field], axis: int | None) -> Field:
    """The reduction or shaped function ``name`` of traced ``args``; ``axis`` is the catalog's default when the
    call gives none."""
    if CATALOG[name].folds and args[0].size > MAX_FOLD_ELEMENTS:
        raise ShapeError(f"{name}() over {args[0].size} elements (at most {MAX_FOLD_ELEMENTS})",
                         hint=f"{name} is one formula over all its elements; split it into smaller parts")
    if name in REDUCE:
        return reduce(name, args[0], axis)
    return MOVES[name].build(args, axis)


def _check_against_catalog() -> None:
    check_implemented((REDUCTION,), REDUCE, "jaccli/expr/shaped.py REDUCE")
    check_implemented((SHAPED,), MOVES, "jaccli/expr/shaped.py MOVES")
    folding = {name for name, r in REDUCE.items() if r.fold is not None}
    declared = {name for name in of_kind(REDUCTION) if CATALOG[name].folds}
    if folding != declared:
        raise ImportError(f"the catalog's folds=True ({sorted(declared)}) and REDUCE's folds ({sorted(folding)}) "
                          "differ")


_check_against_catalog()
