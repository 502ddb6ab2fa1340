"""The ``jaccli`` command line (click only: nothing in the library imports this package).

The root group adds its commands explicitly, so the command modules import the group's shared pieces and never
the other way round.
"""
from __future__ import annotations

from jaccli.cli.batch import batch_jacobian_command
from jaccli.cli.group import cli
from jaccli.cli.tools import compare_command, functions_command, symbolic_command

for _command in (batch_jacobian_command, compare_command, symbolic_command, functions_command):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point (``jaccli``) and ``python -m jaccli``."""
    cli.main(prog_name="jaccli")
