"""A ``batch-jacobian`` run with several orders (``-k 0,1,2``): read -> plan every order at once -> evaluate each
chunk once -> write every order (``io.several``).

The same streaming, dtype, non-finite counting and ``--strict`` as a one-order run (``job``); ``--expect`` and
``--verify`` check one order and are refused here (exit 2) with a hint to run that order alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterator, Optional

import numpy as np

from jaccli.errors import NonFiniteError, UsageError
from jaccli.io.inputs import Batch
from jaccli.io.several import Part
from jaccli.job import Options, Progress, Report, open_scope
from jaccli.plan.orders import OrdersPlan, plan_orders


@dataclass
class OrdersReport(Report):
    first_order: Optional[int] = None  # the order of the first non-finite value

    def where(self) -> str:
        return f"in order {self.first_order} at index {self.first_nonfinite}"


def refuse_checks(orders: tuple[int, ...], expect: Optional[str], verify: bool) -> None:
    if expect is not None or verify:
        option = "--expect" if expect is not None else "--verify"
        raise UsageError(f"{option} checks one order, and -k asks for {len(orders)}",
                         hint=f"run {option} with one order at a time, e.g. -k {max(orders)}")


def open_orders(opts: Options, stdin: Optional[BinaryIO] = None) -> tuple[Batch, OrdersPlan]:
    """Read the input's head and plan every order of ``opts.orders``."""
    batch, scope, dtype = open_scope(opts, stdin)
    return batch, plan_orders(opts.expression, scope, opts.orders, dtype)


def parts(plan: OrdersPlan, unconnected: str) -> dict[int, Part]:
    present = plan.present(unconnected)
    return {k: Part(p.example_shape, p.layout(), present[k]) for k, p in plan.parts.items()}


def results(batch: Batch, plan: OrdersPlan, opts: Options,
            report: OrdersReport) -> Iterator[tuple[dict[int, np.ndarray], int]]:
    """Per chunk, ``{k: (b, *T, *S^k)}`` for the orders that have values, and b; non-finite values are counted."""
    from jaccli.plan.engine import evaluate_chunk

    present = plan.present(opts.unconnected)
    progress = Progress(batch.size)
    for chunk in batch.chunks(plan.chunk_size(opts.parallel_iterations)):
        split = plan.split(evaluate_chunk(plan.plan, chunk, pfor=opts.pfor))
        out = {k: v for k, v in split.items() if present[k]}
        for k, values in out.items():
            _count(report, k, values)
        b = next(iter(chunk.values())).shape[0]
        report.examples += b
        if report.nonfinite and opts.strict:
            raise NonFiniteError(f"non-finite result {report.where()}",
                                 hint="drop --strict to keep nan/inf in the output (they are counted on stderr)")
        progress.update(report.examples)
        yield out, b
    progress.done()


def _count(report: OrdersReport, order: int, values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    count = int(np.count_nonzero(bad))
    if count and report.first_nonfinite is None:
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        report.first_nonfinite = (first[0] + report.examples,) + first[1:]
        report.first_order = order
    report.nonfinite += count
    report.values += values.size
