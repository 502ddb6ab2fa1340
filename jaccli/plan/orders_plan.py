"""The numeric half of a several-orders plan (``-k 0,1,2``): evaluate a chunk, split it per order, store it.

SymPy-free, so that a several-orders plan loaded from the plan cache evaluates with no symbolic half
(``plan/orders.py`` plans one; ``plan/cache.py`` stores it as ``orders_to_data`` gives it and checks it back
with ``orders_from_data``). Each of ``plan``, ``parts`` and ``value`` is a fresh ``Plan`` or a ``Compiled``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from jaccli.plan import nanrule
from jaccli.plan.engine import AnyPlan, evaluate_chunk
from jaccli.plan.store import StoreError, plan_from_data, plan_to_data

FORMAT = "jaccli-orders"


@dataclass
class OrdersPlan:
    """A plan for several orders: ``plan`` computes them all (rows of ``total`` values per example), ``parts``
    describe each order (shape, layout, connected; they hold no programs of their own)."""

    plan: AnyPlan
    orders: tuple[int, ...]
    parts: dict[int, AnyPlan]
    value: AnyPlan | None = None  # the target's value, for the nan rule, when order 0 is not among the orders

    def evaluate(self, chunk: Mapping[str, np.ndarray], pfor: bool = True) -> np.ndarray:
        """One chunk of examples -> rows ``(b, total)`` of every order, the nan rule applied as for one order
        (``plan/nanrule.py``: every derivative of a nan component is nan)."""
        rows = evaluate_chunk(self.plan, chunk, pfor=pfor)
        if math.prod(self.plan.compiled.target_shape) and (self.plan.nan_prone
                                                           or nanrule.inputs_hold_nan(dict(chunk))):
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

    @property
    def leaves(self) -> dict[str, int]:
        return self.plan.compiled.leaves

    def work_per_example(self) -> int:
        return self.plan.work_per_example()

    def calls_per_chunk(self) -> int:
        return self.plan.calls_per_chunk()

    def chunk_size(self, parallel_iterations: int | None) -> int:
        return self.plan.chunk_size(parallel_iterations)

    def top(self, expression: str) -> Any:
        """The highest order as a plan of its own (what ``--verify`` checks, link by link down to the value);
        needs the symbolic plan (``--verify`` turns the plan cache off)."""
        from jaccli.plan.engine import plan_jacobian

        return plan_jacobian(expression, self.plan.scope, max(self.orders), self.plan.dtype)  # type: ignore[union-attr]

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


def orders_to_data(plan: OrdersPlan) -> tuple[dict, dict[str, np.ndarray]]:
    """``plan`` as ``(meta, arrays)`` for the plan cache: the combined plan, each order's part (a plan with no
    groups; the shared parameters live once, in the combined plan) and the value plan of the nan rule.

    A part is stored without a value plan of its own: the nan rule of every order is ``plan.value`` (or order 0),
    and the store refuses a nested value under a prefix, so a part's would make every warm run a miss."""
    meta, arrays = plan_to_data(plan.plan)
    parts = []
    for k in plan.orders:
        bare = dataclasses.replace(plan.parts[k].compiled, params={}, value=None)
        part, more = plan_to_data(bare, f"part{k}.")
        parts.append(part)
        arrays.update(more)
    value = None
    if plan.value is not None:
        value, more = plan_to_data(plan.value, "value.")
        arrays.update(more)
    return {"format": FORMAT, "orders": list(plan.orders), "plan": meta, "parts": parts, "value": value}, arrays


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise StoreError(f"stored orders plan: {what}")


def orders_from_data(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> OrdersPlan:
    """The ``OrdersPlan`` that ``orders_to_data`` gave ``(meta, arrays)`` for, every part checked against the
    combined plan; ``StoreError`` if anything is off."""
    _need(isinstance(meta, Mapping) and meta.get("format") == FORMAT, "foreign format")
    orders = meta["orders"]
    _need(isinstance(orders, list) and orders and all(type(k) is int and k >= 0 for k in orders)
          and len(set(orders)) == len(orders), "orders must be distinct integers >= 0")
    _need(isinstance(meta["parts"], list) and len(meta["parts"]) == len(orders), "one part per order")
    plan = plan_from_data(meta["plan"], arrays)
    parts = {k: plan_from_data(m, arrays, f"part{k}.") for k, m in zip(orders, meta["parts"])}
    for k, part in parts.items():
        _need(part.order == k and not part.groups and part.dtype == plan.dtype and part.leaves == plan.leaves
              and part.target_shape == plan.target_shape, f"part {k} does not match the plan")
    _need(sum(p.size for p in parts.values()) == plan.size and plan.value is None, "part sizes do not add up")
    value = None
    if meta["value"] is not None:
        value = plan_from_data(meta["value"], arrays, "value.")
        _need(value.order == 0 and value.target_shape == plan.target_shape and value.leaves == plan.leaves
              and value.dtype == plan.dtype, "value plan mismatch")
    _need(value is None or 0 not in orders, "a value plan where order 0 is computed")
    return OrdersPlan(plan, tuple(orders), parts, value)
