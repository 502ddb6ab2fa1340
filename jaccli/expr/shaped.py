"""The functions that work on whole axes, built from lane moves (``field.gather``) and one template per lane kind.

Reductions along an axis, softmax, ``dot`` and ``matmul`` never write one formula per output element: the values
along the axis are split into n aligned fields (``along``) and combined elementwise, so ``sum(v**2, axis=-1)``
over 400 rows is one n-slot template on 400 lanes, and ``softmax`` feeds every component its own row *rotated*
(component i sees ``v_i, v_i+1, ..., v_i-1``), so all components share the one template ``softmax(s0, .., sn-1)``.

Shape problems raise ``ShapeError``; the tracer adds the caret.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy

from jaccli.expr import field as fl
from jaccli.expr.field import Field
from jaccli.functions import F


@dataclass(frozen=True)
class Structural:
    """A function built from the others by moving lanes (reductions, dot, matmul, softmax): no row of its own."""

    name: str
    signature: str  # as users write it
    convention: str  # its derivative, as the README states it


STRUCTURAL: dict[str, Structural] = {s.name: s for s in [
    Structural("sum", "sum(v, axis=k)", "1 for every element summed"),
    Structural("mean", "mean(v, axis=k)", "1/n for every element"),
    Structural("prod", "prod(v, axis=k)", "the product of the other elements"),
    Structural("norm", "norm(v, axis=k)", "v/norm(v); nan at v = 0 (as TF)"),
    Structural("logsumexp", "logsumexp(v, axis=k)", "softmax(v) = exp(v - logsumexp(v)); exact at ±1000"),
    Structural("softmax", "softmax(v, axis=-1)",
               "softmax_i*(delta_ij - softmax_j), 1 - softmax_i summed from the others (no cancellation); "
               "exact 0/1 limits at ±1000"),
    Structural("log_softmax", "log_softmax(v, axis=-1)", "delta_ij - softmax_j; stable at ±1000"),
    Structural("dot", "dot(a, b)", "NumPy's dot: the products' sum (vectors: inner product, matrices: matrix product)"),
    Structural("matmul", "matmul(a, b)", "NumPy's matmul: matrix products over a stack of matrices, broadcast"),
]}


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


def reduce(name: str, f: Field, axis: int | None) -> Field:
    """``sum prod mean norm logsumexp`` over all axes (``axis=None``) or one axis."""
    if axis is None:
        if name == "sum":
            return fl.reduce_sum(f)
        if name == "prod":
            return fl.fold_all(sympy.Mul, f)
        if f.size == 0:
            raise ShapeError(f"{name}() of an empty value")
        if name == "mean":
            return fl.scale(fl.reduce_sum(f), sympy.Rational(1, f.size))
        return fl.fold_all(getattr(F, name), f)
    ax = normalize_axis(axis, len(f.shape), name)
    n, shape = f.shape[ax], f.shape[:ax] + f.shape[ax + 1:]
    if name == "sum":
        return fl.reduce_sum(f, ax)
    if name == "prod" and n == 0:
        return fl.broadcast_to(fl.constant(sympy.Integer(1)), shape)
    if n == 0:
        raise ShapeError(f"{name}() over an empty axis ({axis})")
    if name == "mean":
        return fl.scale(fl.reduce_sum(f, ax), sympy.Rational(1, n))
    op = sympy.Mul if name == "prod" else getattr(F, name)
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
        raise ShapeError(f"matmul: the stacks {sa[:-2]} and {sb[:-2]} do not broadcast") from None
    n, k, m = sa[-2], sa[-1], sb[-1]
    ia = np.broadcast_to(_ids(a).reshape(sa), lead + (n, k))[..., :, None, :]  # (..., n, 1, k)
    ib = np.moveaxis(np.broadcast_to(_ids(b).reshape(sb), lead + (k, m)), -2, -1)[..., None, :, :]  # (..., 1, m, k)
    out = contract(fl.gather(a, ia), fl.gather(b, ib))  # (..., n, m)
    if va or vb:
        drop = tuple(s for i, s in enumerate(out.shape) if not ((va and i == len(lead)) or
                                                             (vb and i == len(lead) + 1)))
        out = fl.gather(out, _ids(out).reshape(drop))
    return out


def call(name: str, args: list[Field], axis: int | None) -> Field:
    """The shaped function ``name`` (a reduction, softmax, dot or matmul) of traced ``args``."""
    if name in ("softmax", "log_softmax"):
        return softmax(args[0], -1 if axis is None else axis, log=name == "log_softmax")
    if name == "dot":
        return dot(args[0], args[1])
    if name == "matmul":
        return matmul(args[0], args[1])
    return reduce(name, args[0], axis)
