"""One ``batch-jacobian`` run, end to end and streaming: read -> plan -> evaluate chunk by chunk -> write.

Kept apart from the click layer so that the flow reads top to bottom and the checks (``--expect``, ``--verify``)
can reuse the pieces. Memory is bounded by one chunk of ``--parallel-iterations`` examples for every format (text
spools the result to an anonymous file beyond 32 MB and streams it back: ``jaccli.io.text``).
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Iterator

import numpy as np

from jaccli.plan.cache import plan_cached
from jaccli.plan.compiled import all_finite
from jaccli.plan.engine import AnyPlan as Plan, evaluate_scanned
from jaccli.expr.scope import parse_defines
from jaccli.errors import NonFiniteError, UsageError, did_you_mean
from jaccli.io.inputs import Batch, CsvOptions, read_batch
from jaccli.limits import check_result_bytes, result_limit
from jaccli.io.params import parse_params

if TYPE_CHECKING:  # a warm run (plan from the cache) never imports the symbolic half
    from jaccli.plan.chunking import Sized



@dataclass
class Options:
    expression: str
    input: str = "-"
    order: int = 1
    wrt: str = "x"  # one source, or several separated by commas (--wrt a,b)
    defines: tuple[str, ...] = ()
    fmt: str = "text"
    input_format: str = "auto"
    dtype: str = "auto"
    unconnected: str = "none"
    parallel_iterations: int | None = None
    pfor: bool = True
    precision: int | None = None
    strict: bool = False
    allow_nonfinite: bool = False
    csv: CsvOptions = CsvOptions()  # --delimiter, --columns, --index-col (jaccli.io.inputs.csv)
    max_output_bytes: int | None = None  # None: 1 GiB streamed, half the available memory when held whole
    hold_result: bool = False  # the whole result is kept in memory (--expect)
    cache: bool = True  # the plan cache (plan/cache.py); off for --verify and --layout, which need SymPy's plan
    threads: int | None = None  # None: JACCLI_THREADS, else the cores available (plan/parallel.py)
    reduce: str | None = None  # det | logabsdet | trace | diag (plan/reduce.py)
    jvp: str | None = None
    vjp: str | None = None
    params: tuple[str, ...] = ()  # -P NAME=PATH|JSON: arrays shared by every example
    orders: tuple[int, ...] = ()  # several orders (-k 0,1,2): run by jaccli.job_orders; empty: just ``order``


@dataclass
class Tally:
    """What a run saw: examples, values and the non-finite ones (the first one's full index, for messages).

    A count, not a check: the checks' outcomes are ``jaccli.checks.outcome.Outcome``s."""

    examples: int = 0
    values: int = 0
    nonfinite: int = 0
    first_nonfinite: tuple[int, ...] | None = None

    def where(self) -> str:
        """Where the first non-finite value is, for messages."""
        return f"at index {self.first_nonfinite}"

    def add_nonfinite(self, count: int, first: tuple[int, ...] | None) -> bool:
        """Count a chunk's non-finite values (``count_nonfinite``), the chunk starting at example ``examples``;
        True when it holds the run's first."""
        is_first = bool(count) and self.first_nonfinite is None
        if is_first:
            assert first is not None
            self.first_nonfinite = (first[0] + self.examples,) + first[1:]
        self.nonfinite += count
        return is_first

    def nonfinite_error(self, what: str = "derivative") -> NonFiniteError:
        """``--strict``'s error at the first non-finite value."""
        return NonFiniteError(f"non-finite {what} {self.where()}",
                              hint="drop --strict to keep nan/inf in the output (they are counted on stderr)")


def open_input(opts: Options, stdin: BinaryIO | None = None) -> tuple[Batch, Plan]:
    """Read the input's head and build the plan (from the plan cache when it has it: no SymPy then): all that
    can fail before any value is computed. Several orders (``opts.orders``) give an ``OrdersPlan``, --reduce,
    --jvp and --vjp a reduced plan (``plan/reduce.py``; from the cache: ``plan/reduced.py``)."""
    batch, head = _open_head(opts, stdin)
    dtypes = {k: spec.dtype for k, spec in batch.arrays.items()}
    plan = plan_cached(opts.expression, {k: (shape, dtypes[k]) for k, shape in head.arrays.items()},
                       scalars=batch.scalars, defines=head.defines, columns=batch.columns, row=head.row,
                       wrt=opts.wrt, order=opts.orders or opts.order, dtype=opts.dtype, use_cache=opts.cache,
                       params=head.params, reduce=(opts.reduce, opts.jvp, opts.vjp))
    return batch, plan


@dataclass
class _Head:
    """What the input's head and the options say about names, before any SymPy: the plan cache's key."""

    arrays: dict[str, tuple[int, ...]]
    defines: dict[str, float]
    row: str | None
    params: dict[str, np.ndarray]


def _open_head(opts: Options, stdin: BinaryIO | None = None) -> tuple[Batch, _Head]:
    defines = parse_defines(opts.defines)
    sources = [w.strip() for w in opts.wrt.split(",")]  # --wrt a,b: several sources
    batch = read_batch(opts.input, opts.input_format, single_name=opts.wrt if len(sources) == 1 else "x",
                       allow_nonfinite=opts.allow_nonfinite, stdin=stdin, csv=opts.csv)
    header = batch.columns or []  # CSV/TSV header names
    single = next(iter(batch.arrays)) if header else None  # CSV/TSV with a header: the one row array
    arrays = {k: spec.event_shape for k, spec in batch.arrays.items()}
    row = None
    if single is not None:
        # With a header the row is 'x' and --wrt is 'x' or a column (then the source is that column alone).
        for wrt in sources:
            if wrt != "x" and wrt not in header:
                guess = did_you_mean(wrt, header)
                raise UsageError(f"--wrt {opts.wrt}: the header has no column '{wrt}'"
                                 + (f" (did you mean '{guess}'?)" if guess else ""),
                                 hint="columns: " + ", ".join(header) + "; 'x' is the whole row")
        row = "x"
        arrays = {"x": arrays[single]}
        batch = batch.renamed(single, "x")
    params = parse_params(opts.params, allow_nonfinite=opts.allow_nonfinite)
    return batch, _Head(arrays, defines, row, params)


INPUT_VALUES_PER_CHUNK = 1 << 20  # a chunk of input (all arrays, every example) holds at most ~1M values


def narrow_chunks(batch: Batch, opts: Options, step: int) -> int:
    """``step`` examples per chunk, made smaller when the input's examples are wide (an unused 1M-value array in
    an .npz is read along with the source, chunk by chunk); ``--parallel-iterations`` is taken as given."""
    if opts.parallel_iterations is None:
        row = sum(math.prod(spec.event_shape) for spec in batch.arrays.values())
        step = max(1, min(step, INPUT_VALUES_PER_CHUNK // max(1, row)))
    return step


def chunking(batch: Batch, plan: Sized, opts: Options) -> tuple[int, int]:
    """Examples per chunk and the threads that evaluate them (``plan/chunking.py``, ``plan/parallel.py``)."""
    from jaccli.plan.chunking import chunk_rows, useful_threads
    from jaccli.plan.parallel import thread_count

    threads = thread_count(opts.threads)
    step = narrow_chunks(batch, opts, chunk_rows(plan, opts.parallel_iterations, batch.size, threads))
    return step, useful_threads(plan, step, threads)


def results(batch: Batch, plan: Plan, opts: Options, tally: Tally) -> Iterator[np.ndarray]:
    """Result chunks ``(b, *T, *S^k)``, counting non-finite values; ``--strict`` stops at the first one."""
    step, threads = chunking(batch, plan, opts)
    progress = Progress(batch.size)
    limit = result_limit(opts.max_output_bytes, opts.fmt == "text" or opts.hold_result)
    per_example = math.prod(plan.example_shape)
    check_result_bytes(batch.size or 1, per_example, plan.dtype.itemsize, *limit)  # up front, before any work
    check_result_bytes(1, per_example, plan.dtype.itemsize, *result_limit(None, held=True))  # a chunk holds >= 1
    scanned = evaluate_scanned(plan, batch.chunks(step), count_nonfinite, pfor=opts.pfor, threads=threads)
    for out, (count, first) in scanned:
        if batch.size is None:  # a CSV stream: its length shows as it is read
            check_result_bytes(tally.examples + out.shape[0], per_example, plan.dtype.itemsize, *limit, so_far=True)
        tally.add_nonfinite(count, first)
        tally.examples += out.shape[0]
        tally.values += out.size
        if count and opts.strict:
            raise tally.nonfinite_error()
        progress.update(tally.examples)
        yield out
    progress.done()


def count_nonfinite(out: np.ndarray) -> tuple[int, tuple[int, ...] | None]:
    """How many values of a result chunk are nan or inf, and the index of the first (called on the worker)."""
    if out.size == 0 or all_finite(out):  # a finite sum: all finite, one cheap pass
        return 0, None
    bad = ~np.isfinite(out)
    count = int(np.count_nonzero(bad))
    return count, (tuple(int(i) for i in np.argwhere(bad)[0]) if count else None)


def consume(batch: Batch, plan: Plan, opts: Options, tally: Tally) -> None:
    """A None result still reads (and so validates) every example, to count them and catch bad data."""
    for chunk in batch.chunks(narrow_chunks(batch, opts, plan.chunk_size(opts.parallel_iterations))):
        tally.examples += next(iter(chunk.values())).shape[0]


class Progress:
    """``examples done / total`` on stderr, redrawn at most twice a second, only when stderr is a terminal."""

    def __init__(self, total: int | None) -> None:
        self.total, self.start, self.last = total, time.monotonic(), 0.0
        self.active = sys.stderr.isatty()
        self.shown = False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.active or now - self.start < 1.0 or now - self.last < 0.5:
            return
        self.last, self.shown = now, True
        total = f"/{self.total}" if self.total else ""
        sys.stderr.write(f"\rjaccli: {done}{total} examples")
        sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
