"""Several orders in one run (``-k 0,1,2`` or ``-k 0-2``; order 0 is the value), planned and evaluated together.

One ``Derivative`` holds every order (``derive_orders``): per example its result is the flattened results of the
orders, concatenated. Each template's partials are built once up to the highest order (order k is derived from
order k-1), templates that read the same slots share one kernel across orders, and each chunk is gathered and
evaluated once. ``OrdersPlan`` (``plan/orders_plan.py``, SymPy-free: the plan cache stores it) evaluates
chunks; ``OrdersPlan.split`` cuts a chunk's rows back into one array per order, ``(b, *T, *S^k)``.
"""
from __future__ import annotations

import numpy as np

from jaccli.limits import MAX_ORDER
from jaccli.errors import UsageError
from jaccli.expr.program import ExpressionText, load_expression, parse_text
from jaccli.expr.trace import Scope, build_tape
from jaccli.plan import nanrule
from jaccli.plan.derive import Derivative, derive, derive_orders
from jaccli.plan.engine import Plan, _check_result_size
from jaccli.plan.order_list import parse_orders
from jaccli.plan.orders_plan import OrdersPlan

__all__ = ["OrdersPlan", "parse_orders", "plan_orders", "source_dtype"]


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
