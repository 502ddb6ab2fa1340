"""Limits on what one expression may build, checked from shapes and the syntax tree *before* the work is done.

The parser bounds the text (length, nodes, bracket depth); these bound what the text asks for, which can be far
more: twenty nested one-element lists broadcast to 2**20 elements in 1 264 characters, and a 198-deep
``sin(sin(...))`` squared overflows Python's stack inside SymPy. Each refusal is an ``ExpressionError`` with a caret
under the operation that would cross the limit, raised in microseconds.

- ``MAX_NESTED_FUNCTIONS``: functions, powers and divisions nested inside each other (sums and products do not
  count). SymPy walks such chains recursively, and their derivatives grow like depth**order.
- ``MAX_VALUE_AXES``: axes of any value inside one example (NumPy broadcasts at most 32).
- ``MAX_VALUE_ELEMENTS``: elements of any value inside one example (a 2**22-element field takes seconds to plan).
- ``MAX_TAPE_WORK``: lane entries all operations of the expression may build, summed (the planner's per-element
  structure costs about a microsecond per entry; one entry per element and per template piece it draws on).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

from jaccli.errors import ExpressionError, Span
from jaccli.expr.field import Field
from jaccli.expr.syntax import Binary, Call, Index, Node, Stack, Unary

MAX_NESTED_FUNCTIONS = 100
MAX_VALUE_AXES = 32
MAX_VALUE_ELEMENTS = 1 << 22
MAX_TAPE_WORK = 1 << 24

_DEEP_HINT = "deep compositions make the symbolic work explode; simplify the expression"


def check_function_depth(tree: Node, text: str, label: str | None = None) -> None:
    """Refuse more than ``MAX_NESTED_FUNCTIONS`` calls/powers/divisions inside each other, caret at the first
    one too deep. Iterative: the tree itself may be 200 levels deep."""
    stack: list[tuple[Node, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        nests = isinstance(node, Call) or (isinstance(node, Binary) and node.op in ("**", "/"))
        depth += nests
        if depth > MAX_NESTED_FUNCTIONS:
            raise ExpressionError(f"functions are nested too deeply (more than {MAX_NESTED_FUNCTIONS} calls, "
                                  "powers or divisions inside each other)", text, node.func_span if isinstance(node, Call) else node.span,
                                  hint=_DEEP_HINT, label=label)
        stack.extend((child, depth) for child in _children(node))


def _children(node: Node) -> Sequence[Node]:
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Index):
        return (node.value,)
    if isinstance(node, Stack):
        return node.items
    return ()


def broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """NumPy's broadcasting rule on shapes alone (``np.broadcast_shapes`` refuses more than 32 axes with a
    ValueError of its own, and builds arrays): None when they do not broadcast."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    if any(p != q and 1 not in (p, q) for p, q in zip(a, b)):
        return None
    return tuple(q if p == 1 else p for p, q in zip(a, b))


def check_source_shape(name: str, shape: tuple[int, ...]) -> None:
    """The source's event shape within the value limits: its index map is built before any expression work."""
    from jaccli.errors import UsageError

    size = math.prod(shape)
    if len(shape) > MAX_VALUE_AXES or size > MAX_VALUE_ELEMENTS:
        raise UsageError(f"--wrt {name}: the source has shape {shape}, {size} elements per example (at most "
                         f"{MAX_VALUE_AXES} axes and {MAX_VALUE_ELEMENTS} elements)",
                         hint="reshape the data or watch a smaller array (--wrt)")


class Budget:
    """The running cost of one expression's tape; ``charge`` is called before each operation that builds lanes.
    ``error(message, span, hint)`` makes the tape's ``ExpressionError`` (with its caret and file label)."""

    def __init__(self, error: Callable[..., ExpressionError]) -> None:
        self.error = error
        self.work = 0

    def charge(self, shape: tuple[int, ...], fields: Sequence[Field], span: Span | None) -> None:
        """Refuse a value of ``shape`` built from ``fields`` that is too big, before it is built.

        Sizes are Python ints (never overflow); the work estimate is elements times the template combinations
        an element may draw on (bounded by the element count: each element holds one lane per piece)."""
        if len(shape) > MAX_VALUE_AXES:
            raise self.error(f"the value here would have {len(shape)} axes (at most {MAX_VALUE_AXES})", span,
                              "NumPy broadcasts at most 32 axes; index or sum some away")
        size = math.prod(shape)
        if size > MAX_VALUE_ELEMENTS:
            raise self.error(f"the value here would have {size} elements per example, shape {shape} (at most "
                              f"{MAX_VALUE_ELEMENTS})", span, "check the broadcasting: shapes (n, 1) and (1, n) "
                              "make n*n elements")
        combos = math.prod(max(1, len(f.pieces)) for f in fields) if fields else 1
        self.work += size * min(max(size, 1), combos) + sum(f.size for f in fields)
        if self.work > MAX_TAPE_WORK:
            raise self.error(f"the expression builds too many per-element terms (over {MAX_TAPE_WORK} by here)",
                              span, "broadcasting many separately written lists multiplies the work; use "
                              "fewer, larger arrays (-D constants or input arrays)")

