"""How many examples one chunk holds: from the plan's memory per example *and* its NumPy call count.

Memory alone gives small chunks for dense derivatives (a 50-feature Hessian holds ~5,000 values per example),
and then each of a kernel's thousands of NumPy calls works on a few hundred values: the per-call overhead
(microseconds) becomes the whole cost. So a chunk grows until each call has ``VALUES_PER_CALL`` values on
average, up to a hard memory cap; results are bit-identical for every chunk size, so this only moves time.
"""
from __future__ import annotations

import math
from typing import Protocol

from jaccli.errors import UsageError
from jaccli.limits import MAX_PARALLEL_ITERATIONS

WORK_PER_CHUNK = 1 << 20  # values per chunk from memory alone: big NumPy calls, small footprint
MAX_WORK_PER_CHUNK = 1 << 24  # never more (128 MB of float64 per chunk in flight)
VALUES_PER_CALL = 1 << 12  # below ~4k values a NumPy call costs more in overhead than in arithmetic


class Sized(Protocol):
    def work_per_example(self) -> int: ...

    def calls_per_chunk(self) -> int: ...


def chunk_rows(plan: Sized, parallel_iterations: int | None, batch: int | None = None,
               threads: int = 1) -> int:
    """Examples per chunk: ``--parallel-iterations`` when given; otherwise from memory and call count, and with
    several threads small enough that each thread gets a chunk of ``batch`` examples."""
    if parallel_iterations is not None:
        if not 1 <= parallel_iterations <= MAX_PARALLEL_ITERATIONS:
            raise UsageError(f"--parallel-iterations must be between 1 and {MAX_PARALLEL_ITERATIONS}",
                             hint="e.g. --parallel-iterations 1024, or leave it out to size chunks by memory")
        return parallel_iterations
    work = max(1, plan.work_per_example())
    by_memory = max(1, WORK_PER_CHUNK // work)
    by_calls = math.ceil(plan.calls_per_chunk() * VALUES_PER_CALL / work)
    rows = max(1, min(max(by_memory, by_calls), MAX_WORK_PER_CHUNK // work))
    if batch and threads > 1:
        rows = max(1, min(rows, math.ceil(batch / threads)))
    return rows


GIL_VALUES_PER_CALL = 1 << 13  # below this, threads mostly trade the GIL back and forth between tiny NumPy calls


def useful_threads(plan: Sized, rows: int, threads: int) -> int:
    """``threads``, or 1 when a chunk's NumPy calls are too small to run in parallel: NumPy releases the GIL only
    inside a call, so a plan of thousands of calls on a few thousand values each (a dense Hessian's kernel)
    spends more time handing the GIL over than computing, and one thread is faster. Same bits either way."""
    per_call = rows * max(1, plan.work_per_example()) // max(1, plan.calls_per_chunk())
    return threads if per_call >= GIL_VALUES_PER_CALL else 1
