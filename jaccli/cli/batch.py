"""``jaccli batch-jacobian``: the click face of one job (``jaccli.job``)."""
from __future__ import annotations

from typing import Any

import click

from jaccli.cli.options import AsciiIntRange, expression_options, input_format_option, stacked, tolerance_options
from jaccli.errors import UsageError
from jaccli.io.formats import HEADER_STYLES, OUTPUT_EXTENSIONS, OUTPUT_FORMATS, ROUNDED_FORMATS
from jaccli.limits import MAX_PARALLEL_ITERATIONS, MAX_PRECISION, parse_size
from jaccli.plan.reduce_kinds import REDUCE_KINDS


def _size(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


# The command's arguments and options, top to bottom as --help lists them (``stacked`` applies them as a stack of
# decorators would; the bundles shared with other commands come from ``cli.options``): a tuple, so that the command
# function itself reads on one screen.
_PARAMS = (
    click.argument("expression"),
    click.argument("input", default="-", required=False, metavar="[INPUT]"),
    expression_options(several_orders=True),
    click.option("-f", "--format", "fmt", type=click.Choice(OUTPUT_FORMATS),
                 help=f"Output format  [default: by the -o extension ({' '.join(OUTPUT_EXTENSIONS)}), else text]"),
    click.option("-o", "--output", metavar="PATH",
                 help="Write here instead of standard output: atomically for a regular file, written through for a "
                      "device, FIFO or /dev/fd/N."),
    input_format_option,
    click.option("--dtype", type=click.Choice(["auto", "float32", "float64"]), default="auto", show_default=True,
                 help="auto = the input's float dtype (float64 for text formats and integers)."),
    click.option("--unconnected", type=click.Choice(["none", "zero"]), default="none", show_default=True,
                 help="A target that never reads the source gives None, or zeros of the full shape."),
    click.option("--parallel-iterations", type=AsciiIntRange(min=1, max=MAX_PARALLEL_ITERATIONS), metavar="N",
                 help="At most N examples are evaluated at once (bounds memory; results are bit-identical)."),
    click.option("--pfor/--no-pfor", default=True, show_default=True,
                 help="Vectorised evaluation, or a per-example loop (bit-identical results)."),
    click.option("--threads", type=AsciiIntRange(min=1), metavar="N",
                 help="Evaluate chunks on N threads (bit-identical results) [default: JACCLI_THREADS, else the cores "
                      "available]."),
    click.option("--cache/--no-cache", default=True, show_default=True,
                 help="Reuse plans saved in the plan cache (JACCLI_CACHE_DIR, else the user cache directory)."),
    click.option("--precision", type=AsciiIntRange(min=0, max=MAX_PRECISION), metavar="N",
                 help="Digits: text as numpy prints [default: 8; float64 needs at most 17]; csv/json significant "
                      "digits [default: exact]."),
    click.option("--max-output-bytes", callback=lambda ctx, param, value: _size(value), metavar="SIZE",
                 help="Refuse a result larger than this (values x 4 or 8 bytes), like 512M or 8G [default: 1G; text: "
                      "half the available memory]."),
    click.option("--strict", is_flag=True, help="A non-finite result value is an error (exit 4)."),
    click.option("--allow-nonfinite", is_flag=True, help="Accept nan/inf in the input data."),
    click.option("--expect", metavar="GOLDEN",
                 help="Compare with a saved result (any -f format); exit 1 if it differs."),
    tolerance_options(serving="--expect"),
    click.option("--verify", is_flag=True, help="Cross-check against finite differences; exit 1 if it disagrees."),
    click.option("--verify-rows", type=AsciiIntRange(min=1), default=100, show_default=True, metavar="N",
                 help="Rows --verify samples (seeded)."),
    click.option("--layout", "show_layout", is_flag=True, help="Print which axis is which (on standard error)."),
    click.option("--delimiter", default="auto", show_default=True, metavar="CHAR",
                 help="CSV delimiter: auto (comma, tab, semicolon, pipe or whitespace), a character, tab, whitespace."),
    click.option("--columns", metavar="A,B", help="The CSV columns that make up a row (the others are ignored)."),
    click.option("--index-col", default="auto", show_default=True, metavar="COL",
                 help="A CSV column of row labels to skip: auto (an unnamed first column), none, a name or "
                      "0-based position."),
    click.option("--header", type=click.Choice(HEADER_STYLES), default="auto", show_default=True,
                 help="CSV header / JSON layout: names (d y[0]/d r), index (J[0][1]); auto = names if the input "
                      "has them."),
    click.option("--reduce", type=click.Choice(REDUCE_KINDS),
                 help="Per example, of the last two axis groups: det, logabsdet (sign and log|det|), trace, diag."),
    click.option("--jvp", metavar="NAME",
                 help="Contract the last source axes with array NAME (input or -P; shaped like x)."),
    click.option("--vjp", metavar="NAME",
                 help="Contract the target axes with array NAME (input or -P; shaped like the target)."),
    click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                 help="dask: run on a Dask cluster (Zarr/Parquet/globbed inputs, -o result.zarr); see the README."),
    click.option("--scheduler", metavar="ADDRESS",
                 help="With --engine dask: a running Dask scheduler (tcp://host:8786) [default: a local cluster]."),
)


@click.command("batch-jacobian")
@stacked(*_PARAMS)
def batch_jacobian_command(output: str | None, expect: str | None, rtol: float | None,
                           atol: float | None, verify: bool, verify_rows: int, show_layout: bool,
                           engine: str, scheduler: str | None, **kwargs: Any) -> None:
    """Per-example k-th derivative of EXPRESSION over the batch in INPUT ('-' or nothing: standard input).
    EXPRESSION may be @FILE: an expression file of 'name = expression' lines ending with the target.

    EXPRESSION sees one example at a time: x is one row (or one array of a .npy/.npz/.json), CSV header
    names are its columns. The result has TensorFlow's batch_jacobian layout (B, *T, *S, ..., *S).

    \b
    Example:
      $ jaccli batch-jacobian 'x*x*x' samples/seed.csv --dtype float32
      Tensor(
      [[[48.  0.]
        [ 0. 12.]]

    \b
       [[ 3.  0.]
        [ 0. 27.]]], shape=(2, 2, 2), dtype=float32)

    \b
      $ jaccli batch-jacobian '[r*cos(theta), r*sin(theta)]' samples/polar.csv -f json
      $ cat samples/seed.csv | jaccli batch-jacobian 'sin(x) * a' -D a=2 -k 2 -f csv -o hessians.csv
      $ jaccli batch-jacobian 'a[0]*b[0]**2 + sin(a[1]*b[1])' samples/blocks.json --wrt a,b -k 2
      $ jaccli batch-jacobian 'x*x*x' samples/seed.csv -k 0-2 -f npz -o seed.orders.npz
      $ jaccli batch-jacobian 'tanh(dot(W, x) + b)' samples/mlp/x.csv -k 2 -P W=samples/mlp/W.npy -P b='[0,0,0,0]'
      $ jaccli batch-jacobian @samples/lj.jx samples/lj/atoms.json
      $ jaccli batch-jacobian 'exp(-sum(x**2))' samples/directions.json -k 2 --reduce trace
      $ jaccli batch-jacobian 'x*x*x' samples/seed.csv --dtype float32 --expect samples/expected/seed.order1.json
      match: 8 values within rtol=1e-05, atol=1e-06 (max abs error 0.0, max rel error 0.0)

    With --expect or --verify the result is checked instead of printed (-o still writes it).
    """
    from jaccli.cli.batch_run import run_one
    from jaccli.job_checks import Checks

    opts, header_style = _resolve_options(output, expect, verify, show_layout, kwargs)
    verify_at = verify_rows if verify else None
    if engine == "dask":  # before any local-only path: the Dask engine refuses what it does not run
        return _run_dask(opts, output, scheduler, Checks(expect, rtol, atol, verify_at), show_layout, header_style)
    if scheduler is not None:
        raise UsageError("--scheduler needs --engine dask", hint="add --engine dask, or drop --scheduler")
    if opts.orders:  # -k 0,1,2: one pass, every order written
        return _run_several(opts, output, show_layout, expect, rtol, atol, verify_at, header_style)
    run_one(opts, output, Checks(expect, rtol, atol, verify_at), show_layout, header_style)


def _resolve_options(output: str | None, expect: str | None, verify: bool, show_layout: bool,
                     kwargs: dict[str, Any]) -> tuple[Any, str]:
    """The click values as the job's ``Options`` (and the --header style), checked before any input is read."""
    from jaccli.io.inputs import CsvOptions
    from jaccli.io.outputs import format_for_path
    from jaccli.io.rounding import check_precision
    from jaccli.io.terminal import refuse_binary_to_terminal, say_reading_stdin
    from jaccli.job import Options

    kwargs["fmt"] = kwargs["fmt"] or format_for_path(output)
    orders, header_style = kwargs.pop("orders"), kwargs.pop("header")
    kwargs["csv"] = CsvOptions.parse(kwargs.pop("delimiter"), kwargs.pop("columns"), kwargs.pop("index_col"))
    opts = Options(**kwargs, order=orders[0], orders=orders if len(orders) > 1 else (),
                   hold_result=expect is not None)
    check_precision(opts.precision, opts.fmt)
    if not (expect is not None or verify) or output is not None:  # a check sends nothing to stdout
        refuse_binary_to_terminal(opts.fmt, output)
    say_reading_stdin(opts.input)
    if verify or show_layout:  # these read the symbolic plan, which a cached (numeric) plan does not have
        opts.cache = False
    return opts, header_style


def _run_dask(opts: Any, output: str | None, scheduler: str | None, checks: Any, show_layout: bool,
              header_style: str) -> None:
    """``--engine dask``: refuse the options it does not run (never silently ignored), then run on the cluster."""
    from jaccli.cli.batch_run import finish
    from jaccli.dask.run import run_batch

    if opts.precision is not None and opts.fmt in ROUNDED_FORMATS:
        raise UsageError(f"--precision for {opts.fmt} output is not supported by --engine dask",
                         hint="drop --precision (values are written exactly), or run without --engine dask")
    if opts.csv.delimiter is not True or opts.csv.columns.index_col != "auto" or header_style != "auto":
        raise UsageError("--delimiter, --index-col and --header are not supported by --engine dask",
                         hint="drop them, or run without --engine dask")
    finish(*run_batch(opts, output=output, scheduler=scheduler, checks=checks, show_layout=show_layout))


def _run_several(opts: Any, output: str | None, show_layout: bool, expect: str | None, rtol: float | None,
                 atol: float | None, verify_rows: int | None, header_style: str) -> None:
    """``-k 0,1,2``: every order in one pass (``jaccli.cli.several``); the reductions take one order only."""
    from jaccli.cli.several import run_several

    if opts.reduce or opts.jvp or opts.vjp:
        raise UsageError("--reduce, --jvp and --vjp apply to one order, not to several (-k "
                         + ",".join(map(str, opts.orders)) + ")",
                         hint="run each order on its own")
    run_several(opts, output, show_layout, expect, rtol, atol, verify_rows, header_style)
