"""Where things are in an expression's text: ast's (line, UTF-8 byte column) positions as character offsets."""
from __future__ import annotations

import ast
import re

from jaccli.errors import Span

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the parser's universal newlines: line numbers must agree with it


class TextPositions:
    """The text, its line table and the conversions from ast positions to ``Span`` s of characters."""

    def __init__(self, text: str, label: str | None = None) -> None:
        self.text, self.label = text, label
        # ast.parse refuses leading indentation of an expression; strip it and shift every position back by its
        # length. A file's lines keep theirs (an indented line is an error there, as in Python).
        self.base = 0 if label is not None else len(text) - len(text.lstrip(" \t\f\r\n"))
        body = text[self.base:]
        self.line_starts = [0] + [m.end() for m in _LINE_BREAK.finditer(body)]
        self.lines = [body[a:b] for a, b in zip(self.line_starts, self.line_starts[1:] + [len(body)])]
        self._utf8: dict[int, bytes] = {}

    def offset(self, lineno: int, col: int, *, col_in_bytes: bool = True) -> int:
        """Absolute character offset in ``text`` of (1-based line, column); ast columns are UTF-8 byte offsets."""
        line_index = min(max(lineno, 1), len(self.lines)) - 1
        line = self.lines[line_index]
        if col_in_bytes and not line.isascii():
            encoded = self._utf8.setdefault(line_index, line.encode("utf-8"))
            col = len(encoded[:col].decode("utf-8", errors="ignore"))
        return self.base + self.line_starts[line_index] + min(max(col, 0), len(line))

    def span(self, node: ast.expr | ast.keyword | ast.arg | ast.stmt) -> Span:
        end_lineno, end_col = node.end_lineno, node.end_col_offset
        assert end_lineno is not None and end_col is not None  # ast.parse records end positions on every node
        return Span(self.offset(node.lineno, node.col_offset), self.offset(end_lineno, end_col))

    def op_span(self, start: int, end: int, symbol: str, fallback: Span) -> Span:
        """Span of ``symbol`` in the gap ``text[start:end]`` between operands (ast keeps no operator positions)."""
        i = start
        while i < end and (self.text[i] in " \t\f\r\n()\\" or self.text[i] == "#"):
            if self.text[i] == "#":  # a comment runs to the end of its line
                while i < end and self.text[i] not in "\r\n":
                    i += 1
            else:
                i += 1
        return Span(i, i + len(symbol)) if self.text.startswith(symbol, i) else fallback
