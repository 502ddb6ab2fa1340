"""The ``jaccli`` click group: every library error becomes one ``Error: ...`` message here, in one place."""
from __future__ import annotations

import sys
from typing import Any, NoReturn, Sequence

import click

from jaccli import __version__
from jaccli.errors import JaccliError, one_line

__all__ = ["JaccliGroup", "cli"]


class JaccliGroup(click.Group):
    """A click group whose errors all look alike: ``Error: ...`` (+ caret / location) + hint, documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from jaccli.io.sink import ClosedPipe

        try:
            return super().invoke(ctx)
        except JaccliError as exc:
            click.echo(exc.render(), err=True)
            ctx.exit(exc.exit_code)
        except ClosedPipe:
            ctx.exit(0)  # `jaccli ... | head`: the reader left; that is not an error
        except MemoryError:  # the machine, not a bug: say so in the house style
            click.echo("Error: not enough memory for the result\n  hint: lower --order, or use "
                       "--parallel-iterations 1 with -f csv/npy to stream one example at a time", err=True)
            ctx.exit(2)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> NoReturn:
        """Always standalone: errors are printed here and the process exits (``standalone_mode`` is ignored)."""
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # pragma: no cover - click >= 8.2 only
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
            code = 2
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "jaccli"
            hint = f"see '{command} --help'"
            takes_expression = exc.ctx is not None and any(p.name == "expression" for p in exc.ctx.command.params)
            if isinstance(exc, click.NoSuchOption) and takes_expression and not exc.option_name.startswith("--"):
                # 'jaccli batch-jacobian -x*x data.csv': click reads an expression starting with '-' as an option
                hint += (f"; an EXPRESSION starting with '-' goes after '--', the options before it: "
                         f"{command} -f csv -- '-x*x' data.csv")
            click.echo(f"Error: {one_line(exc.format_message())}\n  hint: {hint}", err=True)
            code = 2
        except click.ClickException as exc:
            click.echo(f"Error: {one_line(exc.format_message())}", err=True)
            code = exc.exit_code
        except click.Abort:
            click.echo("Aborted.", err=True)
            code = 130
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=JaccliGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="jaccli")
def cli() -> None:
    """Per-example (batch) Jacobians of any order, in TensorFlow's layout (B, *T, *S, ...).

    \b
    Example:
      $ jaccli batch-jacobian 'x*x*x' samples/seed.csv --dtype float32
    """
