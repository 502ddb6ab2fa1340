"""``batch-jacobian`` with one order on the local engine: read, plan, stream the result to its sink, check it."""
from __future__ import annotations

import contextlib
import os
from typing import IO, TYPE_CHECKING, Any

import click

from jaccli.errors import CheckFailed
from jaccli.io.formats import ROUNDED_FORMATS

if TYPE_CHECKING:
    from jaccli.checks.outcome import Outcome
    from jaccli.job import Tally


def run_one(opts: Any, output: str | None, checks: Any, show_layout: bool, header_style: str) -> None:
    """One order, streamed chunk by chunk to ``output`` (or standard output), then ``--expect``/``--verify``."""
    from jaccli.io.labels import labels_for
    from jaccli.io.sink import open_sink
    from jaccli.job import Tally, open_input

    # A check reports on stderr; the result itself then goes only where -o says.
    quiet = checks.active and output is None
    with (open(os.devnull, "wb") if quiet else contextlib.nullcontext()) as discard, \
            open_sink(output, stdout=discard, whole=opts.fmt == "npz") as sink:
        batch, plan = open_input(opts)
        for note in batch.notes:
            click.echo(f"note: {note}", err=True)
        labels = labels_for(plan, header_style, batch, opts.wrt)
        if show_layout:
            _show_layout(plan, labels)
        if checks.active:
            batch = checks.remember(batch)
        tally = Tally()
        if not plan.connected and opts.unconnected == "none":
            _write_none(batch, plan, opts, tally, labels, sink.file, discarded=discard is not None)
        else:
            _write_streamed(batch, plan, opts, tally, labels, sink, checks)
        outcome = checks.judge(plan, tally, connected=plan.connected or opts.unconnected == "zero", labels=labels)
        sink.commit()
    finish(tally, outcome)


def _show_layout(plan: Any, labels: Any) -> None:
    from jaccli.plan.engine import Plan
    from jaccli.symbolic.render import render_layout

    assert isinstance(plan, Plan)  # --layout turned the cache off: a symbolic plan
    click.echo(render_layout(plan, labels.axes()), err=True)


def _write_none(batch: Any, plan: Any, opts: Any, tally: Any, labels: Any, file: IO[bytes],
                discarded: bool) -> None:
    """A target that never reads the source: its None result (every example still read, to count and validate)."""
    from jaccli.io.outputs import refuse_none_as, write_none
    from jaccli.job import consume

    if not discarded:
        refuse_none_as(opts.fmt)
    consume(batch, plan, opts, tally)
    write_none("json" if discarded else opts.fmt, file, shape=(tally.examples,) + plan.example_shape,
               dtype=plan.dtype, order=opts.order, layout=labels.axes())


def _write_streamed(batch: Any, plan: Any, opts: Any, tally: Any, labels: Any, sink: Any, checks: Any) -> None:
    """The result, chunk by chunk: each one written, collected for the checks, then released to a stream."""
    from jaccli.io.outputs import make_writer
    from jaccli.io.rounding import round_significant
    from jaccli.job import results

    writer = make_writer(opts.fmt, sink.file, precision=opts.precision, header=_csv_header(plan, opts, labels))
    writer.begin(plan.example_shape, plan.dtype, batch.size, opts.order, labels.axes())
    digits = opts.precision if opts.fmt in ROUNDED_FORMATS else None
    for chunk in results(batch, plan, opts, tally):
        writer.write_chunk(chunk if digits is None else round_significant(chunk, digits))
        checks.collect(chunk)
        sink.release()  # this chunk passed its checks: a stream may show it now
    sink.release()
    writer.finish()


def _csv_header(plan: Any, opts: Any, labels: Any) -> list[str] | None:
    if opts.fmt != "csv":
        return None
    if opts.reduce:  # --reduce logabsdet: sign..., logabsdet...
        from jaccli.plan.reduced import csv_header

        header = csv_header(getattr(plan, "numeric", plan))  # a fresh ReducedPlan, or one from the plan cache
        if header is not None:
            return header
    return labels.csv_header()  # one cell per entry: only when needed


def finish(tally: Tally, outcome: Outcome | None) -> None:
    """The run's last words on stderr: the non-finite count (of a ``Tally``), then ``settle(outcome)``."""
    if tally.nonfinite:
        click.echo(f"warning: {tally.nonfinite} of {tally.values} result values are not finite (nan or inf), "
                   f"the first {tally.where()}; --strict makes this an error", err=True)
    settle(outcome)


def settle(outcome: Outcome | None) -> None:
    """A check's ``Outcome`` (``checks.outcome``; None: no check) on stderr; exit 1 if it failed."""
    if outcome is not None:
        click.echo(outcome.summary(), err=True)
        if not outcome.ok:
            raise CheckFailed(outcome.failure, hint=outcome.hint)
