"""``jaccli batch-jacobian ... --engine dask``: the same run as ``jaccli.job``, on a Dask cluster.

Input blocks are read by the workers (``sources.py``); the result goes to a Zarr store or ``.npy`` part directory
written by the workers (``stores.py``), or streams back to the client block by block, in order, into the local
writers (text, json, csv, npy) when it fits one machine. The checks combine per-block results: non-finite
counts and the first position come from each block's statistics; ``--strict`` fails the run (and leaves no
store); ``--expect`` compares the whole result on the client; ``--verify`` fetches only the sampled rows.
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from typing import Any, Iterator

import click
import numpy as np

from jaccli.errors import UsageError, did_you_mean
from jaccli.checks.outcome import Outcome
from jaccli.job import Options, Progress, Tally, count_nonfinite, parse_defines
from jaccli.job_checks import Checks

BLOCK_VALUES = 1 << 24  # input + result values per block: ~130 MB of float64 result, bounded worker memory


def run_batch(opts: Options, *, output: str | None, scheduler: str | None, checks: Checks,
              show_layout: bool) -> tuple[Tally, Outcome | None]:
    """Run one ``batch-jacobian`` on Dask; returns its tally and the checks' outcome (None without checks)."""
    from jaccli.dask.array import plan_lazy, require_dask
    from jaccli.dask.cluster import connect
    from jaccli.dask.sources import open_source
    from jaccli.dask.stores import output_kind
    from jaccli.io.params import parse_params
    from jaccli.io.sink import remove_temps_on_signals
    from jaccli.io.terminal import refuse_binary_to_terminal

    require_dask()
    _check_supported(opts)
    defines = parse_defines(opts.defines)
    params = parse_params(opts.params, allow_nonfinite=opts.allow_nonfinite)
    kind = output_kind(output)
    remove_temps_on_signals()  # SIGTERM/SIGHUP unwind: a temporary store is removed as on Ctrl-C
    if kind is None and not (checks.active and output is None):
        refuse_binary_to_terminal(opts.fmt, output)
    tally = Tally()
    with connect(scheduler) as client, _workers_import_jaccli():
        picked = opts.csv.columns.columns  # --columns (the other CSV options are refused for --engine dask)
        source = open_source(opts.input, opts.wrt, opts.allow_nonfinite, ",".join(picked) if picked else None)
        _check_wrt(opts.wrt, source.columns)
        x: Any = source.arrays["x"] if source.columns else {**source.arrays, **source.scalars}
        lazy = plan_lazy(opts.expression, x, opts.order, wrt=opts.wrt, constants=defines, names=source.columns,
                         unconnected=opts.unconnected, dtype=opts.dtype, parallel_iterations=opts.parallel_iterations,
                         pfor=opts.pfor, allow_nonfinite=opts.allow_nonfinite, input_checked=source.checked,
                         label=source.label, block_values=BLOCK_VALUES, threads=opts.threads,
                         params=params, reopen=source.reopen)
        plan = lazy.plan
        if show_layout:
            from jaccli.symbolic.render import render_layout

            click.echo(render_layout(plan), err=True)
        batch_size = lazy.size
        if lazy.result is None:
            _write_none(opts, output, kind, checks, plan, batch_size)
            tally.examples = batch_size
        elif kind is not None:
            _store(client, lazy, opts, output, kind, checks, tally)
        else:
            _stream(client, lazy, opts, output, checks, tally)
        if checks.verify_rows is not None and lazy.result is not None:
            checks.row_numbers, sample = _sample(lazy.inputs, checks.verify_rows)
            checks.inputs = [sample]
        outcome = checks.judge(plan, tally, connected=lazy.result is not None)
    return tally, outcome


@contextlib.contextmanager
def _workers_import_jaccli() -> Iterator[None]:
    """A scheduler or workers without jaccli fail to load the tasks: say so instead of a traceback."""
    try:
        yield
    except (ModuleNotFoundError, RuntimeError) as exc:
        cause: BaseException | None = exc
        while cause is not None and not (isinstance(cause, ModuleNotFoundError)
                                         and (cause.name or "").startswith("jaccli")):
            cause = cause.__cause__
        if cause is None:
            raise
        raise UsageError("the Dask scheduler or a worker cannot import jaccli",
                         hint="install jaccli on the scheduler and every worker: pip install 'jaccli[dask]'") from None


def _check_supported(opts: Options) -> None:
    """What the Dask engine does not do (yet): several orders or sources, and the reduced results. Read with
    ``getattr`` because these options come with other work on the command line."""
    unsupported = [("-k " + ",".join(map(str, getattr(opts, "orders", ()))), bool(getattr(opts, "orders", ()))),
                   ("--wrt " + opts.wrt, "," in opts.wrt)] + \
                  [(f"--{name}", bool(getattr(opts, name, None))) for name in ("reduce", "jvp", "vjp")]
    for option, given in unsupported:
        if given:
            raise UsageError(f"--engine dask computes one order of the full batch Jacobian of one source: {option} "
                             "runs on the local engine", hint="drop --engine dask, or run once per order")


def _check_wrt(wrt: str, columns: list[str] | None) -> None:
    """As for a CSV file: with column names, --wrt is 'x' (the whole row) or one column."""
    if columns and wrt != "x" and wrt not in columns:
        guess = did_you_mean(wrt, columns)
        raise UsageError(f"--wrt {wrt}: the header has no column '{wrt}'"
                         + (f" (did you mean '{guess}'?)" if guess else ""),
                         hint="columns: " + ", ".join(columns) + "; 'x' is the whole row")


def _quiet(checks: Checks, output: str | None) -> Any:
    """A check reports on stderr; the result itself then goes only where -o says."""
    return open(os.devnull, "wb") if checks.active and output is None else contextlib.nullcontext()


def _write_none(opts: Options, output: str | None, kind: str | None, checks: Checks, plan: Any,
                size: int) -> None:
    from jaccli.io.outputs import refuse_none_as, write_none
    from jaccli.io.sink import open_sink

    if kind is not None:
        refuse_none_as("Zarr" if kind == "zarr" else ".npy parts")
    with _quiet(checks, output) as discard, open_sink(output, stdout=discard, whole=opts.fmt == "npz") as sink:
        if discard is None:
            refuse_none_as(opts.fmt)
        write_none("json" if discard else opts.fmt, sink.file, shape=(size,) + plan.example_shape,
                   dtype=plan.dtype, order=opts.order, layout=plan.layout())
        sink.commit()


def _count(tally: Tally, block: np.ndarray, strict: bool) -> None:
    """``job.results``' bookkeeping for one block arriving in order."""
    count, first = count_nonfinite(block)
    tally.add_nonfinite(count, first)
    tally.examples += block.shape[0]
    tally.values += block.size
    if count and strict:
        raise tally.nonfinite_error()


def _stream(client: Any, lazy: Any, opts: Options, output: str | None, checks: Checks, tally: Tally) -> None:
    """Blocks computed a few ahead of the writer and written in batch order: the local formats, unchanged."""
    from jaccli.dask.cluster import total_threads
    from jaccli.io.outputs import make_writer
    from jaccli.io.sink import open_sink

    plan, result = lazy.plan, lazy.result
    progress = Progress(result.shape[0])
    with _quiet(checks, output) as discard, open_sink(output, stdout=discard, whole=opts.fmt == "npz") as sink:
        writer = make_writer(opts.fmt, sink.file, precision=opts.precision)
        writer.begin(plan.example_shape, plan.dtype, result.shape[0], opts.order, plan.layout())
        for block in ordered_blocks(client, result, window=2 * total_threads(client)):
            _count(tally, block, opts.strict)
            writer.write_chunk(block)
            checks.collect(block)
            sink.release()  # this block passed its checks: a stream may show it now
            progress.update(tally.examples)
        sink.release()
        writer.finish()
        progress.done()
        sink.commit()


def ordered_blocks(client: Any, result: Any, window: int) -> Iterator[np.ndarray]:
    """The result's blocks in order, at most ``window`` in flight (memory: a few blocks, not the result)."""
    parts = list(result.to_delayed().ravel())
    pending: deque = deque()
    for part in parts:
        pending.append(client.compute(part))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _store(client: Any, lazy: Any, opts: Options, output: str | None, kind: str, checks: Checks,
           tally: Tally) -> None:
    """Workers write the blocks and send back ``[count, first]`` per block; rename only when all is well."""
    from jaccli import __version__
    from jaccli.dask.stores import Store

    assert output is not None  # output_kind gave a store kind
    plan, result = lazy.plan, lazy.result
    attrs = {"shape": list(result.shape), "dtype": plan.dtype.name, "order": opts.order, "layout": plan.layout(),
             "expression": opts.expression, "jaccli": __version__}
    store = Store(output, kind, tuple(result.shape), plan.dtype, result.chunks[0][0], attrs)
    try:
        future = client.compute(_store_graph(result, store))
        if sys.stderr.isatty():
            from distributed.diagnostics.progressbar import TextProgressBar

            TextProgressBar([future], scheduler=client.scheduler.address, stream=sys.stderr)
        _combine(tally, future.result(), result.chunks[0], plan.example_shape)
        if tally.nonfinite and opts.strict:
            raise tally.nonfinite_error()
        if checks.expect is not None:
            checks.outputs = [_read_back(store)]
        store.commit()
    except BaseException:
        store.abort()
        raise


def _store_graph(result: Any, store: Any) -> Any:
    """``[[count, first]]`` per block, from a task that writes the block; each depends on its block alone, so it
    runs where the block is."""
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    from jaccli.dask.array import block_starts
    from jaccli.dask.blocks import store_block

    name = "jaccli-store-" + tokenize(result.name, store.target)
    tail = (0,) * (result.ndim - 1)
    dsk: dict[Any, Any] = {(name, i, 0): (store_block, (result.name, i) + tail, start, store.target, store.kind)
           for i, start in enumerate(block_starts(result.chunks[0]))}
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[result])
    return da.Array(graph, name, chunks=((1,) * len(dsk), (2,)), dtype=np.int64, meta=np.empty((0, 0), np.int64))


def _combine(tally: Tally, stats: np.ndarray, rows: tuple[int, ...], example_shape: tuple[int, ...]) -> None:
    """Per-block ``[count, first flat index]`` -> the tally a local run gives (first = lowest position)."""
    for (count, first), b in zip(stats.tolist(), rows):
        local = tuple(int(i) for i in np.unravel_index(first, (b,) + example_shape)) if count else None
        tally.add_nonfinite(count, local)
        tally.examples += b
        tally.values += b * int(np.prod(example_shape, dtype=np.int64))


def _read_back(store: Any) -> np.ndarray:
    """The written result on the client (``--expect`` compares it whole, as its golden file is whole)."""
    if store.kind == "zarr":
        import zarr

        return np.asarray(zarr.open_array(store.tmp, mode="r")[...])
    parts = sorted(p for p in os.listdir(store.tmp) if p.endswith(".npy"))
    return np.concatenate([np.load(os.path.join(store.tmp, p), allow_pickle=False) for p in parts])


def _sample(inputs: dict, rows: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The rows ``--verify`` samples (the local run's seeded choice) and their values, fetched alone, in the local
    value dtype."""
    import dask

    from jaccli.checks.verify import sample_rows
    from jaccli.io.inputs.batch import value_dtype

    size = next(iter(inputs.values())).shape[0]
    picked = sample_rows(size, rows, seed=0)
    values = dask.compute(*[a[picked] for a in inputs.values()])
    return picked, {k: np.asarray(v, dtype=value_dtype(np.dtype(v.dtype))) for k, v in zip(inputs, values)}
