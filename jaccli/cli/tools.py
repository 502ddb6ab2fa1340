"""The other commands of the ``jaccli`` group: ``compare``, ``symbolic``, ``functions``."""
from __future__ import annotations


import click

from jaccli.cli.batch_run import settle
from jaccli.cli.options import (AsciiIntRange, expression_options, input_format_option, result_format_options,
                                tolerance_options)
from jaccli.errors import UsageError


@click.command("compare")
@click.argument("expected", metavar="GOLDEN")
@click.argument("actual", metavar="RESULT")
@tolerance_options()
@result_format_options
def compare_command(expected: str, actual: str, rtol: float | None, atol: float | None, fmt_a: str,
                    fmt_b: str) -> None:
    """Compare two saved results (any formats jaccli writes); exit 0 if they match, 1 if not.

    Files of several orders (-k 0,1,2 written as .npz or json) are compared order by order.

    A value matches when |actual - golden| <= atol + rtol*|golden|; nan matches only nan, inf only the same inf.
    Shapes and (where both files record it) dtypes must agree.

    \b
    Example:
      $ jaccli compare samples/expected/seed.order1.json samples/expected/seed.order1.txt
      match: 8 values within rtol=1e-05, atol=1e-06 (max abs error 0.0, max rel error 0.0)
    """
    from jaccli.checks.several import compare_orders, read_orders

    # Files of several orders (-k 0,1,2 as .npz or json) are compared order by order.
    if expected == "-" and actual == "-":
        raise UsageError("standard input can be only one of GOLDEN and RESULT", hint="save one of them to a file")
    outcome = compare_orders(read_orders(expected, fmt_a), read_orders(actual, fmt_b), rtol, atol,
                             names=(expected, actual))
    settle(outcome)


@click.command("symbolic")
@click.argument("expression")
@click.argument("input", required=False, metavar="[INPUT]")
@click.option("--shape", help="Source event shape, like 2 or 2,3 (instead of an INPUT file).")
@click.option("--columns", help="Source columns, like r,theta (a CSV header, instead of an INPUT file).")
@expression_options(several_orders=False)
@click.option("--form", type=click.Choice(["plain", "latex", "python"]), default="plain", show_default=True,
              help="Formulas as text or LaTeX, or a runnable NumPy function of one example (python).")
@input_format_option
@click.option("--max-lines", type=AsciiIntRange(min=1), default=200, show_default=True, metavar="N",
              help="Print at most N entries (plain and latex).")
@click.option("--tape", "show_tape", is_flag=True, help="Also print the tape (the operations, with their shapes).")
@click.option("--kernel", "show_kernel", is_flag=True,
              help="Also print the NumPy programs the engine runs (one per group of templates).")
def symbolic_command(expression: str, input: str | None, shape: str | None, columns: str | None,
                     order: int, wrt: str, defines: tuple[str, ...], params: tuple[str, ...], form: str,
                     input_format: str, max_lines: int, show_tape: bool, show_kernel: bool) -> None:
    """Print the non-zero entries of the order-k derivative as formulas, elementwise parts once with their pattern.

    The source shape comes from --shape, from --columns, or from an INPUT file's head (no values are needed).
    EXPRESSION may be @FILE (an expression file): its named values are printed first, as formulas.

    \b
    Example:
      $ jaccli symbolic 'x*x*x' --shape 2
      d y[i] / d x[i] = 3*x[i]**2    for i in 0..1
      $ jaccli symbolic '[r*cos(theta), r*sin(theta)]' --columns r,theta --form latex
    """
    from jaccli.io.params import parse_params
    from jaccli.job import Options, open_input, parse_defines
    from jaccli.plan.engine import Plan
    from jaccli.symbolic.render import parse_columns, parse_shape, plan_from_shape, render_named, render_symbolic

    if input is not None and (shape is not None or columns is not None):
        raise UsageError("give either INPUT or --shape/--columns",
                         hint="an INPUT file gives the source's shape; without one, --shape or --columns gives it")
    if input is not None:
        opts = Options(expression, input, order=order, wrt=wrt, defines=defines, input_format=input_format,
                       dtype="float64", params=params, cache=False)  # the formulas need SymPy's plan
        _, plan = open_input(opts)
        assert isinstance(plan, Plan)
    else:
        plan = plan_from_shape(expression, parse_shape(shape) if shape is not None else None, order, wrt=wrt,
                               columns=parse_columns(columns) if columns is not None else None,
                               defines=parse_defines(defines), params=parse_params(params))
    if show_tape:
        click.echo(str(plan.tape))
    if show_kernel:
        for i, group in enumerate(plan.derivative.groups):
            click.echo(f"# kernel {i}: {group[0].lanes} lanes, {len(group[0].slots)} slots")
            click.echo(str(group[0].kernel))
    if plan.tape.named:  # an expression file: its named values first, as formulas of the inputs
        click.echo(render_named(plan, form, max_lines=max_lines))
    click.echo(render_symbolic(plan, form, max_lines=max_lines, target_name=plan.tape.target_name))


@click.command("functions")
def functions_command() -> None:
    """List the expression language's functions with their derivative conventions.

    \b
    Example:
      $ jaccli functions
    """
    from jaccli.catalog import CATALOG

    width = max(len(s.call) for s in CATALOG.values()) + 2
    for s in CATALOG.values():
        # A one-argument rule is d/dx (d/dv); conventions of several arguments name each derivative themselves.
        click.echo(f"{s.call:<{width}} {f'd/d{s.args}: ' if s.arity == 1 else ''}{s.convention}")
    click.echo("reductions without axis= work over all event axes; where's condition is one comparison "
               "(< <= > >= == !=)")
    click.echo("constants: pi, e; operators: + - * / ** and unary -, +; indexing x[0], x[1:3], x[-1], x[:, None], "
               "x[..., 0]; stacking [a, b]")
