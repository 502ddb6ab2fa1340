"""``batch-jacobian`` with one order on the local engine: read, plan, stream the result to its sink, check it."""
from __future__ import annotations

import contextlib
import os
from typing import IO, Any, Optional

import click

from jaccli.errors import CheckFailed
from jaccli.io.formats import ROUNDED_FORMATS


def run_one(opts: Any, output: Optional[str], checks: Any, show_layout: bool, header_style: str) -> None:
    """One order, streamed chunk by chunk to ``output`` (or standard output), then ``--expect``/``--verify``."""
    from jaccli.io.labels import labels_for
    from jaccli.io.sink import open_sink
    from jaccli.job import Report, open_input

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
        report = Report()
        if not plan.connected and opts.unconnected == "none":
            _write_none(batch, plan, opts, report, labels, sink.file, discarded=discard is not None)
        else:
            _write_streamed(batch, plan, opts, report, labels, sink, checks)
        verdict = checks.run(plan, report, connected=plan.connected or opts.unconnected == "zero", labels=labels)
        sink.commit()
    finish(report, verdict)


def _show_layout(plan: Any, labels: Any) -> None:
    from jaccli.plan.engine import Plan
    from jaccli.symbolic.render import render_layout

    assert isinstance(plan, Plan)  # --layout turned the cache off: a symbolic plan
    click.echo(render_layout(plan, labels.axes()), err=True)


def _write_none(batch: Any, plan: Any, opts: Any, report: Any, labels: Any, file: IO[bytes],
                discarded: bool) -> None:
    """A target that never reads the source: its None result (every example still read, to count and validate)."""
    from jaccli.io.outputs import refuse_none_as, write_none
    from jaccli.job import consume

    if not discarded:
        refuse_none_as(opts.fmt)
    consume(batch, plan, opts, report)
    write_none("json" if discarded else opts.fmt, file, shape=(report.examples,) + plan.example_shape,
               dtype=plan.dtype, order=opts.order, layout=labels.axes())


def _write_streamed(batch: Any, plan: Any, opts: Any, report: Any, labels: Any, sink: Any, checks: Any) -> None:
    """The result, chunk by chunk: each one written, collected for the checks, then released to a stream."""
    from jaccli.io.outputs import make_writer
    from jaccli.io.rounding import round_significant
    from jaccli.job import results

    writer = make_writer(opts.fmt, sink.file, precision=opts.precision, header=_csv_header(plan, opts, labels))
    writer.begin(plan.example_shape, plan.dtype, batch.size, opts.order, labels.axes())
    digits = opts.precision if opts.fmt in ROUNDED_FORMATS else None
    for chunk in results(batch, plan, opts, report):
        writer.write_chunk(chunk if digits is None else round_significant(chunk, digits))
        checks.collect(chunk)
        sink.release()  # this chunk passed its checks: a stream may show it now
    sink.release()
    writer.finish()


def _csv_header(plan: Any, opts: Any, labels: Any) -> Optional[list[str]]:
    if opts.fmt != "csv":
        return None
    if opts.reduce:  # --reduce logabsdet: sign..., logabsdet... (SymPy-side module)
        from jaccli.plan.engine import Plan
        from jaccli.plan.reduce import csv_header

        assert isinstance(plan, Plan)  # reduced plans are never cached
        header = csv_header(plan)
        if header is not None:
            return header
    return labels.csv_header()  # one cell per entry: only when needed


def finish(report: Any, verdict: Any) -> None:
    """The run's last words on stderr: the non-finite count, the checks' report (exit 1 if one failed)."""
    if report.nonfinite:
        click.echo(f"warning: {report.nonfinite} of {report.values} result values are not finite (nan or inf), "
                   f"the first at index {report.first_nonfinite}; --strict makes this an error", err=True)
    if verdict:
        click.echo(verdict.text, err=True)
        if not verdict.ok:
            raise CheckFailed(verdict.failure, hint=verdict.hint)
