"""``batch-jacobian -k 0,1,2``: the click side of a several-orders run (``jaccli.job_orders``)."""
from __future__ import annotations

from typing import Optional

import click

from jaccli.job import Options


def run_several(opts: Options, output: Optional[str], show_layout: bool) -> None:
    """Compute every order of ``opts.orders`` in one pass and write them all to ``output`` (or standard output)."""
    from jaccli.io.several import SeveralWriter, check_format, check_several
    from jaccli.io.sink import open_sink
    from jaccli.job_orders import OrdersReport, open_orders, parts, results

    check_several(opts.fmt, len(opts.orders))
    with open_sink(output) as sink:
        batch, plan = open_orders(opts)
        described = parts(plan, opts.unconnected)
        check_format(opts.fmt, described)
        if show_layout:
            from jaccli.symbolic.render import render_layout

            for k, part_plan in plan.parts.items():
                click.echo(f"order {k}:\n" + render_layout(part_plan), err=True)
        writer = SeveralWriter(opts.fmt, sink.file, precision=opts.precision)
        writer.begin(described, plan.dtype, batch.size)
        report = OrdersReport()
        for chunks, examples in results(batch, plan, opts, report):
            writer.write(chunks, examples)
        writer.finish()
        sink.commit()
    if report.nonfinite:
        click.echo(f"warning: {report.nonfinite} of {report.values} result values are not finite (nan or inf), "
                   f"the first {report.where()}; --strict makes this an error", err=True)
