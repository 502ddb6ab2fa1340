"""Several orders in one run (``-k 0,1,2`` or ``-k 0-2``; order 0 is the value), planned and evaluated together.

One ``Derivative`` holds every order (``derive_orders``): per example its result is the flattened results of the
orders, concatenated. Each template's partials are built once up to the highest order (order k is derived from
order k-1), templates that read the same slots share one kernel across orders, and each chunk is gathered and
evaluated once. ``OrdersPlan.split`` cuts a chunk's rows back into one array per order, ``(b, *T, *S^k)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from jaccli.limits import MAX_ORDER
from jaccli.errors import UsageError
from jaccli.expr.program import ExpressionText, load_expression, parse_text
from jaccli.expr.trace import Scope, build_tape
from jaccli.plan import nanrule
from jaccli.plan.derive import Derivative, derive, derive_orders
from jaccli.plan.engine import Plan, _check_result_size, evaluate_chunk, plan_jacobian
from jaccli.plan.order_list import parse_orders

__all__ = ["OrdersPlan", "parse_orders", "plan_orders", "source_dtype"]

@dataclass
class OrdersPlan:
    """A plan for several orders: ``plan`` computes them all (rows of ``total`` values per example), ``parts``
    describe each order (shape, layout, connected; their derivatives hold no programs of their own)."""

    plan: Plan
    orders: tuple[int, ...]
    parts: dict[int, Plan]
    value: Plan | None = None  # the target's value, for the nan rule, when order 0 is not among the orders

    def evaluate(self, chunk: Mapping[str, np.ndarray], pfor: bool = True) -> np.ndarray:
        """One chunk of examples -> rows ``(b, total)`` of every order, the nan rule applied as for one order
        (``plan/nanrule.py``: every derivative of a nan component is nan)."""
        rows = evaluate_chunk(self.plan, chunk, pfor=pfor)
        if self.plan.tape.target.size and (self.plan.nan_prone or nanrule.inputs_hold_nan(dict(chunk))):
            split = self.split(rows)
            value = split[0] if 0 in split else evaluate_chunk(self.value, chunk, pfor=pfor) if self.value else None
            if value is not None:
                value = nanrule.checked(value, chunk, self.plan.nan_prone)
            for k, block in split.items():
                if k and value is not None:
                    nanrule.apply(block, value)  # block is a view into rows
        return rows

    @property
    def dtype(self) -> np.dtype:
        return self.plan.dtype

    def chunk_size(self, parallel_iterations: int | None) -> int:
        return self.plan.chunk_size(parallel_iterations)

    def top(self, expression: str) -> Plan:
        """The highest order as a plan of its own (what ``--verify`` checks, link by link down to the value)."""
        return plan_jacobian(expression, self.plan.scope, max(self.orders), self.plan.dtype)

    def present(self, unconnected: str) -> dict[int, bool]:
        """Per order: whether it has values (False: a None result, as ``--unconnected none`` gives)."""
        return {k: p.connected or unconnected == "zero" for k, p in self.parts.items()}

    def split(self, rows: np.ndarray) -> dict[int, np.ndarray]:
        """A chunk's rows ``(b, total)`` -> ``{k: (b, *T, *S^k)}``: views into ``rows``, not copies (whoever
        keeps them copies once, chunk by chunk: a strided copy of a whole big result costs more than the split)."""
        b, out, at = rows.shape[0], {}, 0
        for k in self.orders:
            shape = self.parts[k].example_shape
            size = int(np.prod(shape, dtype=np.int64))
            out[k] = rows[:, at:at + size].reshape((b,) + shape)  # a column block: reshape keeps it a view
            at += size
        return out


def plan_orders(expression: str | ExpressionText, scope: Scope, orders: tuple[int, ...],
                dtype: np.dtype) -> OrdersPlan:
    """Parse, build the tape and derive every order in ``orders`` at once (``@PATH``: an expression file)."""
    if not orders or min(orders) < 0:
        raise UsageError(f"orders must be 0 or more, got {orders}", hint="e.g. --order 0,1,2 (0 is the value)")
    if max(orders) > MAX_ORDER:  # before anything grows with it, as plan_jacobian does for one order
        raise UsageError(f"order {max(orders)} is too large (at most {MAX_ORDER})",
                         hint=f"orders above {MAX_ORDER} are refused: sizes grow like n**k")
    text = load_expression(expression)
    tape = build_tape(parse_text(text), scope, text.text, text.label)
    expression = text.text
    for k in orders:
        _check_result_size(tape, k)
    d = derive_orders(tape, tuple(orders))
    parts = {k: Plan(expression, tape, Derivative(d.target_shape, d.source, k, k == 0 or d.connected, [], []),
                     np.dtype(dtype), scope) for k in orders}
    combined = Plan(expression, tape, d, np.dtype(dtype), scope, nan_prone=nanrule.may_be_nan(tape.target))
    value = Plan(expression, tape, derive(tape, 0), np.dtype(dtype), scope) if 0 not in orders else None
    return OrdersPlan(combined, tuple(orders), parts, value)


def source_dtype(scope: Scope, dtypes: dict[str, np.dtype]) -> np.dtype:
    """The dtype ``--dtype auto`` follows: the source's, or the common one of several sources' arrays."""
    return np.result_type(*(dtypes[leaf] for leaf in scope.source().leaves()))
