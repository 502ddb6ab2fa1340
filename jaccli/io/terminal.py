"""Courtesies for a person at a terminal (issue 6 §6): no binary on the screen, no silent wait on the keyboard."""
from __future__ import annotations

import sys

from jaccli.errors import UsageError
from jaccli.io.formats import BINARY_FORMATS


def _isatty(stream: object) -> bool:
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def refuse_binary_to_terminal(fmt: str, output: str | None) -> None:
    """``-f npy``/``npz`` to a terminal would print binary garbage: refuse, as ``gzip`` does, unless ``-o`` says
    where."""
    if fmt in BINARY_FORMATS and output in (None, "-") and _isatty(sys.stdout):
        raise UsageError(f"refusing to write binary .{fmt} data to a terminal",
                         hint=f"redirect standard output (> result.{fmt}), or use -o result.{fmt}")


def say_reading_stdin(path: str) -> None:
    """With no INPUT and a terminal on standard input, say so on stderr, so that the wait is not a mystery."""
    if path == "-" and _isatty(sys.stdin):
        sys.stderr.write("jaccli: reading the batch from standard input (end with Ctrl-D; or give INPUT)\n")
        sys.stderr.flush()
