"""The expression language's syntax tree: what ``parse.parse_expression`` returns and ``tape.build_tape`` reads.

Every node carries the ``Span`` of the text it came from, so later stages (shape errors, unknown index) can
put a caret under the right part of the expression.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from jaccli.errors import Span


@dataclass(frozen=True)
class Num:
    """A numeric literal: ``int`` for integer literals (exact), ``float`` otherwise."""

    value: Union[int, float]
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
class Call:
    """``func(args...)``; ``func_span`` covers just the function name (for 'unknown function' carets)."""

    func: str
    args: tuple["Node", ...]
    span: Span
    func_span: Span


@dataclass(frozen=True)
class Slice:
    """``start:stop:step`` with literal integers (``None`` where omitted)."""

    start: Optional[int]
    stop: Optional[int]
    step: Optional[int]
    span: Span


@dataclass(frozen=True)
class IndexItem:
    """One position of an index: a literal integer (possibly negative) or a ``Slice``."""

    value: Union[int, Slice]
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


Node = Union[Num, Name, Unary, Binary, Call, Index, Stack]
