"""A ``batch-jacobian`` run with several orders (``-k 0,1,2``): read -> plan every order at once -> evaluate each
chunk once -> write every order (``io.several``).

The same streaming, dtype, non-finite counting and ``--strict`` as a one-order run (``job``); ``--expect`` compares
order by order with a golden file of the same orders; ``--verify`` checks the highest order (and so, link by link,
every order below it).
"""
from __future__ import annotations

import math

from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

import numpy as np

from jaccli.limits import check_result_bytes, result_limit
from jaccli.checks.outcome import Outcome
from jaccli.io.inputs import Batch
from jaccli.io.several import Part
from jaccli.job import Options, Progress, Tally, chunking, count_nonfinite, open_input
from jaccli.plan.engine import AnyPlan
from jaccli.plan.orders_plan import OrdersPlan


@dataclass
class OrdersTally(Tally):
    """A several-orders run's ``Tally``: the first non-finite value is named by its order too.

    The first is that of the first example (in input order) with a non-finite value in any order, and of the
    lowest such order for that example (``first_of_orders``): a place that no chunking or thread count moves."""

    first_order: int | None = None  # the order of the first non-finite value

    def where(self) -> str:
        return f"in order {self.first_order} {super().where()}"


class OrdersChecks:
    """``--expect`` for several orders: the golden file holds them too (``.npz`` or json), compared order by order."""

    def __init__(self, expect: str | None, rtol: float | None, atol: float | None) -> None:
        self.expect, self.rtol, self.atol = expect, rtol, atol
        self.active = expect is not None
        self.outputs: dict[int, list[np.ndarray]] = {}

    def collect(self, chunks: dict[int, np.ndarray]) -> None:
        if self.active:
            for k, values in chunks.items():
                self.outputs.setdefault(k, []).append(values)

    def judge(self, plan: OrdersPlan, described: dict[int, Part], examples: int) -> Outcome | None:
        """The order-by-order comparison with the golden file (None without ``--expect``)."""
        if self.expect is None:
            return None
        from jaccli.checks.results import Result
        from jaccli.checks.several import compare_orders, read_orders

        actual: dict[int | None, Result] = {}
        for k, part in described.items():
            shape = (examples,) + part.shape
            if not part.present:
                actual[k] = Result.from_array(None, shape=shape, dtype=plan.dtype, layout=part.layout)
            else:
                found = self.outputs.get(k)
                array = np.concatenate(found) if found else np.zeros(shape, plan.dtype)
                actual[k] = Result.from_array(array, layout=part.layout)
        return compare_orders(read_orders(self.expect), actual, self.rtol, self.atol,
                              names=(self.expect, "the result"))


def open_orders(opts: Options, stdin: BinaryIO | None = None) -> tuple[Batch, OrdersPlan]:
    """Read the input's head and plan every order of ``opts.orders`` (from the plan cache when it has it)."""
    batch, plan = open_input(opts, stdin)
    if not isinstance(plan, OrdersPlan):  # a bug, not the user's: a check that ``python -O`` keeps
        raise TypeError(f"internal error: orders {opts.orders} were planned as a {type(plan).__name__}, "
                        "not an OrdersPlan")
    return batch, plan


def parts(plan: OrdersPlan, unconnected: str,
          layout: Callable[[AnyPlan], list[str]] | None = None) -> dict[int, Part]:
    """Each order's shape, axis names (``layout(plan)``, default the plan's own) and presence."""
    present = plan.present(unconnected)
    return {k: Part(p.example_shape, layout(p) if layout else p.layout(), present[k]) for k, p in plan.parts.items()}


def check_output_size(batch: Batch, plan: OrdersPlan, opts: Options) -> tuple[tuple[int, str, str], int]:
    """The output-size budget of ``job.results``, over every order written (text holds them all in memory);
    called before any writer starts. Returns the limit and the values per example, for the running check."""
    present = plan.present(opts.unconnected)
    limit = result_limit(opts.max_output_bytes, opts.fmt == "text" or opts.hold_result)
    per_example = sum(math.prod(p.example_shape) for k, p in plan.parts.items() if present[k])
    check_result_bytes(batch.size or 1, per_example, plan.dtype.itemsize, *limit)
    check_result_bytes(1, per_example, plan.dtype.itemsize, *result_limit(None, held=True))
    return limit, per_example


def first_of_orders(counts: dict[int, tuple[int, tuple[int, ...] | None]]
                    ) -> tuple[int | None, tuple[int, ...] | None]:
    """A chunk's first non-finite value over its orders (``{k: count_nonfinite(values)}``): the order and index
    of the earliest example with one, the lowest order on a tie. Not the first order with one: a later order can
    hold an earlier example, and which examples share a chunk must not change the answer."""
    found = [(first[0], k, first) for k, (n, first) in counts.items() if n and first is not None]
    if not found:
        return None, None
    _, order, first = min(found)
    return order, first


def results(batch: Batch, plan: OrdersPlan, opts: Options,
            tally: OrdersTally) -> Iterator[tuple[dict[int, np.ndarray], int]]:
    """Per chunk, ``{k: (b, *T, *S^k)}`` for the orders that have values, and b; non-finite values are counted.

    Chunks are evaluated (and scanned for non-finite values) on ``--threads`` threads, as one order's are
    (``job.results``), and come back in input order: the same bytes, counts and first error for every thread
    count and chunking."""
    from jaccli.plan.parallel import ordered_map

    present = plan.present(opts.unconnected)
    progress = Progress(batch.size)
    limit, per_example = check_output_size(batch, plan, opts)
    step, threads = chunking(batch, plan, opts)

    def work(chunk: dict[str, np.ndarray]) -> tuple[dict[int, np.ndarray], dict, int]:
        split = plan.split(plan.evaluate(chunk, pfor=opts.pfor))
        out = {k: v for k, v in split.items() if present[k]}
        return out, {k: count_nonfinite(v) for k, v in out.items()}, next(iter(chunk.values())).shape[0]

    for out, counts, b in ordered_map(work, batch.chunks(step), threads):
        if batch.size is None:  # a CSV stream: its length shows as it is read
            check_result_bytes(tally.examples + b, per_example, plan.dtype.itemsize, *limit, so_far=True)
        order, first = first_of_orders(counts)
        if tally.add_nonfinite(sum(n for n, _ in counts.values()), first):
            tally.first_order = order
        tally.values += sum(values.size for values in out.values())
        tally.examples += b
        if tally.nonfinite and opts.strict:
            raise tally.nonfinite_error("result")
        progress.update(tally.examples)
        yield out, b
    progress.done()
