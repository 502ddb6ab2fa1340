"""The options that several commands share, each declared once (as sqlite-utils' ``output_options``).

A command takes a bundle as a decorator, in the place where its options should stand in ``--help``::

    @click.command("symbolic")
    @expression_options(several_orders=False)
    @input_format_option
    def symbolic_command(...): ...

Where two commands really differ (``batch-jacobian`` takes several orders at once, ``symbolic`` one; the tolerances
of ``batch-jacobian`` serve --expect only), the difference is a parameter of the bundle; everything else is the
same on every command, which tests/test_cli_options.py holds. Format choices and default tolerances in the help
come from their one definition each (``io/formats.py`` and ``checks/tolerances.py``, both free of NumPy: this module is
imported by ``jaccli --help``).
"""
from __future__ import annotations

import re
from typing import Any, Callable, TypeVar

import click

from jaccli.checks.tolerances import DEFAULT_TOLERANCES
from jaccli.errors import UsageError
from jaccli.io.formats import COMPARE_FORMATS, INPUT_FORMATS, PARAM_EXTENSIONS, SEVERAL_FORMATS
from jaccli.textkit import CSV_NUMBER

F = TypeVar("F", bound=Callable[..., Any])


class _AsciiDigits(click.ParamType):
    """A click number type that takes ASCII digits only, as every number jaccli reads (``textkit``): ``int()`` and
    ``float()`` would take ``'١'`` (Arabic-Indic one) and ``'1_0'``. Anything else gets click's own words for a
    value that is not a number (``'abc' is not a valid integer range.``)."""

    grammar: re.Pattern[str]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not self.grammar.fullmatch(value.strip()):
            self.fail(f"{value!r} is not a valid {self.name}.", param, ctx)
        return super().convert(value, param, ctx)


class AsciiIntRange(_AsciiDigits, click.IntRange):
    grammar = re.compile(r"[+-]?[0-9]+")


class AsciiFloat(_AsciiDigits, click.types.FloatParamType):
    grammar = CSV_NUMBER  # nan and inf pass here: the checks refuse them with their own words


def stacked(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Apply ``decorators`` as if written one per line in this order (the last one nearest the function), so that
    ``--help`` lists their options in this order."""
    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f
    return apply


def expression_options(*, several_orders: bool) -> Callable[[F], F]:
    """-k/--order, --wrt, -D/--define, -P/--param: what the expression is differentiated by and what it sees.

    ``several_orders``: -k takes a list or range (``0,1,2``, ``0-2``) into the parameter ``orders`` (a tuple),
    else one order into ``order`` (an int)."""
    return stacked(
        _order_option(several_orders),
        click.option("--wrt", default="x", show_default=True, metavar="NAME",
                     help="The source (watched variable): the input array, an NPZ/JSON array or a CSV column; "
                          "several as a,b (their concatenation)."),
        click.option("-D", "--define", "defines", multiple=True, metavar="NAME=VALUE",
                     help="A scalar constant (repeatable)."),
        click.option("-P", "--param", "params", multiple=True, metavar="NAME=PATH|JSON",
                     help=f"An array shared by every example ({'/'.join(PARAM_EXTENSIONS)}, or inline JSON like "
                          "'[1,2]'; repeatable)."),
    )


def _order_option(several: bool) -> Callable[[F], F]:
    if several:
        return click.option("-k", "--order", "orders", default="1", show_default=True, metavar="K",
                            callback=lambda ctx, param, value: _orders(value),
                            help="Derivative order; several as 0,1,2 or 0-2 "
                                 f"(0 is the value; -f {'/'.join(SEVERAL_FORMATS)}).")
    return click.option("-k", "--order", "order", type=AsciiIntRange(min=0), default=1, show_default=True,
                        metavar="K", help="Derivative order (0 is the value).")


def _orders(text: str) -> tuple[int, ...]:
    from jaccli.plan.order_list import parse_orders

    try:
        return parse_orders(text)
    except UsageError as exc:  # click's own words for a bad option value, with the --help hint
        raise click.BadParameter(f"{exc.message} ({exc.hint})") from None


input_format_option = click.option(
    "--input-format", type=click.Choice(INPUT_FORMATS), default="auto", show_default=True,
    help="auto = by extension (.gz/.bz2/.xz looked through); standard input by its content.")


def tolerance_options(*, serving: str | None = None) -> Callable[[F], F]:
    """--rtol/--atol, their defaults per dtype in the help; ``serving``: the option they apply to, if one."""
    purpose = f" for {serving}" if serving else ""
    return stacked(*(click.option(flag, type=AsciiFloat(), help=f"{kind} tolerance{purpose} [{_defaults(which)}].")
                     for which, (flag, kind) in enumerate((("--rtol", "Relative"), ("--atol", "Absolute")))))


def _defaults(which: int) -> str:
    """``float64: 1e-12, float32: 1e-5, ...``: column ``which`` (0 rtol, 1 atol) of the default tolerances."""
    return ", ".join(f"{dtype}: {_short(pair[which])}" for dtype, pair in DEFAULT_TOLERANCES.items())


def _short(value: float) -> str:
    """A tolerance as people write it: ``1e-5`` (Python writes ``1e-05``), ``1e-3`` (Python: ``0.001``)."""
    mantissa, exponent = f"{value:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def result_format_options(f: F) -> F:
    """``compare``'s --format-a (of GOLDEN) and --format-b (of RESULT)."""
    return stacked(*(click.option(flag, dest, type=click.Choice(COMPARE_FORMATS), default="auto", show_default=True,
                                  help=f"Format of {argument} (auto: by extension, then by content).")
                     for flag, dest, argument in (("--format-a", "fmt_a", "GOLDEN"), ("--format-b", "fmt_b", "RESULT"))
                     ))(f)
