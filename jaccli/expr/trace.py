"""Syntax tree -> tape: one example's target as a ``field.Field``, plus a readable record of the operations.

``build_tape(tree, scope, text)`` interprets the parsed expression over lane-template fields (see ``field.py``).
Shapes follow NumPy inside one example; every shape, index or name problem becomes an ``ExpressionError`` with a
caret under the offending part. Constants are folded exactly while that is cheap and in float64 otherwise, so
``9**9**9`` costs microseconds (it is ``inf``), never an exact 370-million-digit integer.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field as dc_field
from typing import Optional

import numpy as np
import sympy

from jaccli.expr import field as fl
from jaccli.errors import ExpressionError, Span, UsageError, did_you_mean
from jaccli.expr.field import Field
from jaccli.functions import CONSTANTS, ELEMENTWISE, F, REDUCTIONS, number
from jaccli.expr.source import EMPTY, Segment, Source, concatenate
from jaccli.expr.syntax import Binary, Call, Index, Name, Node, Num, Slice, Stack, Unary

__all__ = ["Equation", "Scope", "Segment", "Source", "Tape", "build_tape"]

MAX_EXACT_BITS = 4096  # larger constant powers are folded in float64 (overflowing to inf, as NumPy would)
MAX_EXPONENT = 1024  # |constant exponent| applied to data; x**(9**9) is refused rather than differentiated


@dataclass
class Scope:
    """What names mean: per-example arrays (event shapes), scalar constants, CSV column aliases, the source."""

    arrays: dict[str, tuple[int, ...]]
    constants: dict[str, sympy.Expr] = dc_field(default_factory=dict)
    columns: dict[str, tuple[str, int]] = dc_field(default_factory=dict)  # alias -> (array, flat element)
    wrt: str = "x"

    def names(self) -> list[str]:
        return sorted(set(self.arrays) | set(self.constants) | set(self.columns) | set(CONSTANTS))

    def source(self) -> Source:
        if "," in self.wrt:
            names = [name.strip() for name in self.wrt.split(",")]
            return concatenate([dataclasses.replace(self, wrt=name).source() if name else EMPTY for name in names],
                               ",".join(names))
        if self.wrt in self.columns:
            leaf, i = self.columns[self.wrt]
            smap = np.full(int(np.prod(self.arrays[leaf], dtype=np.int64)), -1, np.int64)
            smap[i] = 0
            return Source(self.wrt, leaf, (), smap)
        if self.wrt in self.arrays:
            shape = self.arrays[self.wrt]
            return Source(self.wrt, self.wrt, shape, np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64))
        if self.wrt in self.constants:
            raise UsageError(f"--wrt {self.wrt}: '{self.wrt}' is a constant, not an input array",
                             hint="the source must be an array of the input file")
        known = sorted(set(self.arrays) | set(self.columns))
        guess = did_you_mean(self.wrt, known)
        raise UsageError(f"--wrt {self.wrt}: the input has no array named '{self.wrt}'"
                         + (f" (did you mean '{guess}'?)" if guess else ""),
                         hint="inputs: " + ", ".join(known) if known else None)


@dataclass(frozen=True)
class Equation:
    var: str
    op: str
    args: tuple[str, ...]
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.var}: {self.shape} = {self.op}({', '.join(self.args)})"


@dataclass
class Tape:
    """The target of one example (a ``Field`` of shape ``T``), the source, and the operations that built it."""

    target: Field
    source: Source
    equations: list[Equation]

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.equations)


def _is_scalar_constant(f: Field) -> bool:
    return f.shape == () and len(f.pieces) == 1 and not f.pieces[0].slots


def _const(f: Field) -> sympy.Expr:
    return f.pieces[0].expr


def fold_power(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    """``base**exp`` for two constants: exact while small, float64 otherwise (inf on overflow, nan if complex)."""
    if base.is_Rational and exp.is_Integer:
        bits = max(abs(base.p).bit_length(), abs(base.q).bit_length())
        if bits * abs(int(exp)) <= MAX_EXACT_BITS and not (base == 0 and exp < 0):
            return sympy.Pow(base, exp)
    with np.errstate(all="ignore"):
        return number(float(np.power(np.float64(float(base)), np.float64(float(exp)))))


class _Builder:
    def __init__(self, scope: Scope, text: str) -> None:
        self.scope, self.text = scope, text
        self.source = scope.source()
        self.equations: list[Equation] = []

    def error(self, message: str, span: Span, hint: Optional[str] = None) -> ExpressionError:
        return ExpressionError(message, self.text, span, hint=hint)

    def record(self, op: str, args: list[str], f: Field) -> tuple[Field, str]:
        var = f"t{len(self.equations)}"
        self.equations.append(Equation(var, op, tuple(args), f.shape))
        return f, var

    def broadcast(self, a: Field, b: Field, span: Span) -> tuple[int, ...]:
        try:
            return tuple(np.broadcast_shapes(a.shape, b.shape))
        except ValueError:
            raise self.error(f"shapes {a.shape} and {b.shape} do not broadcast", span,
                             hint="inside one example, shapes follow NumPy's broadcasting rules") from None

    # --- nodes --------------------------------------------------------------------------------------------
    def visit(self, node: Node) -> tuple[Field, str]:
        return getattr(self, "visit_" + type(node).__name__)(node)

    def visit_Num(self, node: Num) -> tuple[Field, str]:
        value = sympy.Integer(node.value) if isinstance(node.value, int) else number(node.value)
        return self.record("const", [repr(node.value)], fl.constant(value))

    def visit_Name(self, node: Name) -> tuple[Field, str]:
        s, name = self.scope, node.id
        if name in s.columns:
            leaf_name, i = s.columns[name]
            f = fl.gather(self._leaf(leaf_name), np.asarray(i, dtype=np.int64))
        elif name in s.arrays:
            f = self._leaf(name)
        elif name in s.constants:
            f = fl.constant(s.constants[name])
        elif name in CONSTANTS:
            f = fl.constant(CONSTANTS[name])
        else:
            guess = did_you_mean(name, s.names())
            raise self.error(f"unknown name '{name}'" + (f" (did you mean '{guess}'?)" if guess else ""), node.span,
                             hint="names: " + ", ".join(s.names()))
        return self.record("name", [name], f)

    def _leaf(self, name: str) -> Field:
        shape = self.scope.arrays[name]
        smap = self.source.map_for(name)
        watched = smap >= 0 if smap is not None else np.zeros(int(np.prod(shape)), bool)
        return fl.leaf(name, shape, watched)

    def visit_Unary(self, node: Unary) -> tuple[Field, str]:
        f, var = self.visit(node.operand)
        if node.op == "+":
            return f, var
        return self.record("neg", [var], fl.scale(f, sympy.Integer(-1)))

    def visit_Binary(self, node: Binary) -> tuple[Field, str]:
        (a, va), (b, vb) = self.visit(node.left), self.visit(node.right)
        shape = self.broadcast(a, b, node.span)
        op = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}[node.op]
        if node.op in "+-":
            out = fl.add(a, b, shape, negate_b=node.op == "-")
        elif node.op == "*" and (_is_scalar_constant(a) or _is_scalar_constant(b)):
            out = fl.scale(b, _const(a)) if _is_scalar_constant(a) else fl.scale(a, _const(b))
        elif node.op == "/" and _is_scalar_constant(b) and not _is_scalar_constant(a):
            out = fl.scale(a, 1 / _const(b)) if _const(b) != 0 else fl.combine(_divide, [a, b], shape)
        elif node.op == "/":
            out = fl.combine(_divide, [a, b], shape)
        elif node.op == "*":
            out = fl.combine(sympy.Mul, [a, b], shape)
        else:
            out = self.power(a, b, shape, node.right.span)
        return self.record(op, [va, vb], out)

    def power(self, a: Field, b: Field, shape: tuple[int, ...], exp_span: Span) -> Field:
        if _is_scalar_constant(b):
            e = _const(b)
            if _is_scalar_constant(a):
                return fl.constant(fold_power(_const(a), e))
            if not e.is_finite or abs(float(e)) > MAX_EXPONENT:
                raise self.error(f"exponent {float(e):g} is too large (the limit is {MAX_EXPONENT})", exp_span,
                                 hint="powers of data are limited so that derivatives stay meaningful")
            return fl.combine(lambda u: sympy.Pow(u, e), [a], shape)
        if all(not p.slots for p in a.pieces) and all(not p.slots for p in b.pieces):
            return fl.combine(lambda u, v: fold_power(u, v) if u.is_number and v.is_number else F.pow(u, v),
                              [a, b], shape)
        return fl.combine(F.pow, [a, b], shape)

    def visit_Call(self, node: Call) -> tuple[Field, str]:
        name = node.func
        if name not in ELEMENTWISE and name not in REDUCTIONS:
            known = sorted(set(ELEMENTWISE) | set(REDUCTIONS))
            guess = did_you_mean(name, known)
            hint = "'jaccli functions' lists them" if guess else "functions: " + ", ".join(known)
            if name in self.scope.names():
                raise self.error(f"'{name}' is a variable, not a function", node.func_span)
            raise self.error(f"unknown function '{name}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                             node.func_span, hint=hint)
        want = 2 if name == "dot" else 1 if name in REDUCTIONS else ELEMENTWISE[name].nargs
        assert want is not None  # only internal rows are n-ary (nargs None), and ELEMENTWISE leaves them out
        if len(node.args) != want:
            raise self.error(f"{name}() takes {want} argument{'s' if want > 1 else ''}, got {len(node.args)}",
                             node.span, hint="reductions work over all event axes" if name in REDUCTIONS else None)
        visited = [self.visit(a) for a in node.args]
        args, vars_ = [f for f, _ in visited], [v for _, v in visited]
        if name in REDUCTIONS:
            return self.record(name, vars_, self.reduction(name, args, node))
        if name == "pow":
            shape = self.broadcast(args[0], args[1], node.span)
            return self.record(name, vars_, self.power(args[0], args[1], shape, node.args[1].span))
        shape = args[0].shape if len(args) == 1 else self.broadcast(args[0], args[1], node.span)
        return self.record(name, vars_, fl.combine(getattr(F, name), args, shape))

    def reduction(self, name: str, args: list[Field], node: Call) -> Field:
        v = args[0]
        if name == "sum":
            return fl.reduce_sum(v)
        if name == "mean":
            if v.size == 0:
                raise self.error("mean() of an empty value", node.span)
            return fl.scale(fl.reduce_sum(v), sympy.Rational(1, v.size))
        if name == "prod":
            return fl.fold_all(sympy.Mul, v)
        if name in ("norm", "logsumexp"):
            if v.size == 0:
                raise self.error(f"{name}() of an empty value", node.span)
            return fl.fold_all(getattr(F, name), v)
        return self.dot(args[0], args[1], node)

    def dot(self, a: Field, b: Field, node: Call) -> Field:
        """NumPy's ``dot``: scalars multiply; otherwise a's last axis meets b's second-to-last (or only) axis."""
        if a.shape == () or b.shape == ():
            return fl.combine(sympy.Mul, [a, b], self.broadcast(a, b, node.span))
        if len(b.shape) >= 2:
            b = fl.moveaxis(b, -2, -1)
        k = a.shape[-1]
        if b.shape[-1] != k:
            raise self.error(f"dot: shapes {a.shape} and {b.shape} are not aligned", node.span,
                             hint="dot(a, b) sums over the last axis of a and the second-to-last of b")
        lead_a, lead_b = a.shape[:-1], b.shape[:-1]
        a = fl.gather(a, np.arange(a.size, dtype=np.int64).reshape(lead_a + (1,) * len(lead_b) + (k,)))
        shape = lead_a + lead_b + (k,)
        return fl.reduce_sum(fl.combine(sympy.Mul, [a, b], shape), axis=len(shape) - 1)

    def visit_Index(self, node: Index) -> tuple[Field, str]:
        f, var = self.visit(node.value)
        key = tuple(slice(i.value.start, i.value.stop, i.value.step) if isinstance(i.value, Slice) else i.value
                    for i in node.items)
        try:
            out = fl.index(f, key)
        except IndexError as exc:
            # Point at the first item that fails on its own prefix (an index out of range, or one too many).
            probe = np.empty(f.shape, dtype=np.int8)
            bad = next((item for i, item in enumerate(node.items) if not _indexes(probe, key[:i + 1])),
                       node.items[-1])
            raise self.error(f"{exc}", bad.span, hint=f"the value has event shape {f.shape}") from None
        return self.record("index", [var, str(key)], out)

    def visit_Stack(self, node: Stack) -> tuple[Field, str]:
        visited = [self.visit(i) for i in node.items]
        first = visited[0][0].shape
        for item, (f, _) in zip(node.items, visited):
            if f.shape != first:
                raise self.error(f"stacked items must have equal shapes: {f.shape} here, {first} for the first",
                                 item.span, hint="index or broadcast the items to one shape first")
        return self.record("stack", [v for _, v in visited], fl.stack([f for f, _ in visited]))


def _indexes(array: np.ndarray, key: tuple) -> bool:
    try:
        array[key]
    except IndexError:
        return False
    return True


def _divide(u: sympy.Expr, v: sympy.Expr) -> sympy.Expr:
    if u.is_number and v.is_number and v == 0:
        with np.errstate(all="ignore"):
            return number(float(np.float64(float(u)) / np.float64(0.0)))
    return u / v


def build_tape(tree: Node, scope: Scope, text: str) -> Tape:
    """Interpret ``tree`` over one example: the target ``Field`` (shape ``T``), the source, the recorded ops."""
    builder = _Builder(scope, text)
    target, _ = builder.visit(tree)
    return Tape(target, builder.source, builder.equations)
