"""The expression language's syntax tree: what ``parse.parse_expression`` (and ``parse_program``, for expression
files) return and ``trace.build_tape`` reads.

Every node carries the ``Span`` of the text it came from, so later stages (shape errors, unknown index) can
put a caret under the right part of the expression.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import EllipsisType

from jaccli.errors import Span


@dataclass(frozen=True)
class Num:
    """A numeric literal: ``int`` for integer literals (exact), ``float`` otherwise."""

    value: int | float
    span: Span


@dataclass(frozen=True)
class Name:
    """A variable or constant name (source, input array, CSV column, ``-D`` constant, ``pi``, ``e``)."""

    id: str
    span: Span


@dataclass(frozen=True)
class Unary:
    op: str  # '-' or '+'
    operand: "Node"
    span: Span


@dataclass(frozen=True)
class Binary:
    op: str  # '+', '-', '*', '/', '**'
    left: "Node"
    right: "Node"
    span: Span


@dataclass(frozen=True)
class Keyword:
    """``axis=k``: the only keyword argument (reductions, softmax), with an integer literal value."""

    name: str
    value: int
    span: Span


@dataclass(frozen=True)
class Call:
    """``func(args...)``; ``func_span`` covers just the function name (for 'unknown function' carets)."""

    func: str
    args: tuple["Node", ...]
    span: Span
    func_span: Span
    keywords: tuple[Keyword, ...] = ()


@dataclass(frozen=True)
class Compare:
    """``left < right`` (also ``<= > >= == !=``): allowed only as the condition of ``where(cond, a, b)``."""

    op: str
    left: "Node"
    right: "Node"
    span: Span


@dataclass(frozen=True)
class Slice:
    """``start:stop:step`` with literal integers (``None`` where omitted)."""

    start: int | None
    stop: int | None
    step: int | None
    span: Span


@dataclass(frozen=True)
class IndexItem:
    """One position of an index: a literal integer (possibly negative), a ``Slice``, ``None`` (a new axis of
    length 1, NumPy's ``newaxis``) or ``...`` (``Ellipsis``: all the axes not named)."""

    value: int | Slice | None | EllipsisType
    span: Span


@dataclass(frozen=True)
class Index:
    """``value[i, j:k, ...]`` — indexing inside one example's event shape."""

    value: "Node"
    items: tuple[IndexItem, ...]
    span: Span


@dataclass(frozen=True)
class Stack:
    """``[e1, e2, ...]`` — stacks equal-shaped values along a new leading event axis."""

    items: tuple["Node", ...]
    span: Span


Node = Num | Name | Unary | Binary | Call | Compare | Index | Stack


@dataclass(frozen=True)
class Assign:
    """``name = value``, one line of an expression file; ``name_span`` covers the name alone."""

    name: str
    value: Node
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Program:
    """An expression file: named intermediates in order, then the target expression (the last line)."""

    assignments: tuple[Assign, ...]
    target: Node
