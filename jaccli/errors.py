"""The exceptions jaccli raises, and the one place that turns them into text.

Library code raises a ``JaccliError`` subclass; the CLI catches it in one place, prints ``render()`` on standard
error and exits with ``exit_code``. Any other exception is a bug and keeps its traceback.

Rendered form (exactly one line starts with ``Error:``)::

    Error: unknown function 'sinn' (did you mean 'sin'?)
      sinn(x) * y
      ^^^^
      hint: 'jaccli functions' lists them

    Error: data.csv:3:5: 'abc' is not a number
      hint: every cell must be a number; '#' starts a comment line
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Span:
    """Half-open character range ``[start, end)`` in the expression text."""

    start: int
    end: int


class JaccliError(Exception):
    """Base class: a problem the user can fix. ``exit_code`` is the README's "Exit codes" table."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where

    def details(self) -> list[str]:
        """Extra lines between the ``Error:`` line and the hint (subclasses add a caret block)."""
        return []

    def render(self) -> str:
        head = f"{self.where}: {self.message}" if self.where else self.message
        lines = [f"Error: {one_line(head)}", *self.details()]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class CheckFailed(JaccliError):
    """A check did not pass (golden mismatch, --verify over tolerance): exit 1."""

    exit_code = 1


class UsageError(JaccliError):
    """Options that do not fit together, or a name that the input does not provide: exit 2."""

    exit_code = 2


class ExpressionError(JaccliError):
    """A bad expression: exit 2, rendered with the expression and a caret span under the bad part."""

    exit_code = 2

    def __init__(self, message: str, text: str, span: Span | None, *, hint: str | None = None,
                 label: str | None = None) -> None:
        super().__init__(message, hint=hint, where=label)
        self.text = text
        self.span = span
        self.label = label  # an expression file's name: the message says file:line:column, the caret its line
        if label is not None and span is not None:
            line_start = text.rfind("\n", 0, span.start) + 1
            self.where = f"{label}:{text.count(chr(10), 0, span.start) + 1}:{span.start - line_start + 1}"

    def details(self) -> list[str]:
        if self.span is None or not self.text:
            return []
        text = self.text
        start, end = self.span.start, max(self.span.end, self.span.start + 1)
        if self.label is not None:  # a file: show the span's own line only
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", start)
            text = text[line_start:line_end if line_end >= 0 else len(text)].rstrip("\r")
            start, end = start - line_start, min(end - line_start, max(len(text), start - line_start + 1))
        # Long expressions: show a window of at most 76 characters around the span.
        lo = max(0, min(start - 20, len(text) - 76))
        hi = min(len(text), max(lo + 76, min(end, lo + 76)))
        shown = text[lo:hi].replace("\n", " ").replace("\t", " ")
        prefix = "..." if lo > 0 else ""
        suffix = "..." if hi < len(text) else ""
        caret_start = len(prefix) + start - lo
        caret_len = max(1, min(end, hi) - start)
        return [f"  {prefix}{shown}{suffix}", "  " + " " * caret_start + "^" * caret_len]


class InputError(JaccliError):
    """Bad input data or an unreadable input file: exit 3. ``where`` is ``file:line:column`` or ``file[array][index]``."""

    exit_code = 3


class NonFiniteError(JaccliError):
    """A non-finite value in the result under ``--strict``: exit 4."""

    exit_code = 4


_CONTROL = {i: f"\\x{i:02x}" for i in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t", 127: "\\x7f"}


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``): the ``Error:`` line must stay one
    line even when it quotes user text (an expression with a comment and a newline, a file name)."""
    return text.translate(_CONTROL)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest known name, for 'did you mean' messages, or None."""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return close[0] if close else None


class OutputError(JaccliError):
    """The output cannot be written (standard output closed, disk full): exit 3, like an unreadable input."""

    exit_code = 3
