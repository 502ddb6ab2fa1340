"""``batch-jacobian -k 0,1,2``: the click side of a several-orders run (``jaccli.job_orders``)."""
from __future__ import annotations

import contextlib
import os

import click

from jaccli.checks.outcome import combine
from jaccli.cli.batch_run import finish
from jaccli.job import Options


def run_several(opts: Options, output: str | None, show_layout: bool, expect: str | None,
                rtol: float | None, atol: float | None, verify_rows: int | None, header: str = "auto") -> None:
    """Compute every order of ``opts.orders`` in one pass and write them all to ``output`` (or standard output).

    ``--expect`` compares order by order with a several-orders golden (``.npz`` or json); ``--verify`` checks the
    highest order, which checks every order below it on the way (``checks.verify``)."""
    from jaccli.io.labels import labels_for
    from jaccli.io.rounding import round_significant
    from jaccli.io.several import SeveralWriter, check_format, check_several
    from jaccli.io.sink import open_sink
    from jaccli.job_checks import Checks
    from jaccli.job_orders import OrdersChecks, OrdersTally, check_output_size, open_orders, parts, results

    check_several(opts.fmt, len(opts.orders))
    checks = Checks(None, None, None, verify_rows)  # --verify: it keeps the input rows
    expecting = OrdersChecks(expect, rtol, atol)
    quiet = (checks.active or expecting.active) and output is None  # a check reports; -o still writes
    with (open(os.devnull, "wb") if quiet else contextlib.nullcontext()) as discard, \
            open_sink(output, stdout=discard, whole=opts.fmt == "npz") as sink:
        batch, plan = open_orders(opts)
        for note in batch.notes:
            click.echo(f"note: {note}", err=True)
        check_output_size(batch, plan, opts)
        described = parts(plan, opts.unconnected, lambda p: labels_for(p, header, batch, opts.wrt).axes())
        check_format("json" if discard else opts.fmt, described)
        if show_layout:
            from jaccli.symbolic.render import render_layout

            for k, part_plan in plan.parts.items():
                click.echo(f"order {k}:\n" + render_layout(part_plan), err=True)
        batch = checks.remember(batch)
        writer = SeveralWriter("json" if discard else opts.fmt, sink.file, precision=opts.precision)
        writer.begin(described, plan.dtype, batch.size)
        tally = OrdersTally()
        for chunks, examples in results(batch, plan, opts, tally):
            digits = opts.precision if opts.fmt == "json" else None  # csv/npy are refused for several orders
            writer.write(chunks if digits is None else {k: round_significant(v, digits) for k, v in chunks.items()},
                         examples)
            expecting.collect(chunks)
            sink.release()  # this chunk passed its checks: a stream may show it now
        sink.release()
        writer.finish()
        outcome = combine([expecting.judge(plan, described, tally.examples),
                           checks.judge(plan.top(opts.expression), tally, connected=plan.plan.connected)
                           if checks.active else None])  # --verify: it turned the plan cache off
        sink.commit()
    finish(tally, outcome)
