"""CSV dialects: how one line splits into cells (RFC 4180 quoting), and which delimiter a file uses.

A cell is the text between delimiters; a cell whose first non-space character is ``"`` is quoted: it runs to the
closing ``"``, ``""`` inside stands for one ``"``, and only spaces may follow before the next delimiter (what R's
``write.csv`` and Excel write). A quoted cell may not span lines: each physical line is one row, so errors name
the line a user sees in an editor. The delimiter is one character (``,`` ``;`` tab ...) or ``None`` for runs of
spaces and tabs (``whitespace``: leading and trailing blanks do not make empty cells).

``Cell.column`` is the 1-based character column where the cell's text starts (the opening quote, or the first
non-blank character), which is where an error's caret belongs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from jaccli.errors import InputError, UsageError
from jaccli.textkit import CSV_NUMBER

BLANKS = " \t"
DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|", "space": None,
                   "whitespace": None}
_CANDIDATES = ("\t", ";", ",", "|")  # detection order; whitespace is tried when none of them splits the line
_WORDS = re.compile(r"[^ \t]+")
_BLANK = re.compile(r"[ \t]")


@dataclass(frozen=True)
class Cell:
    text: str  # the value: unquoted, blanks around it removed
    column: int  # 1-based character column of the cell's first non-blank character
    quoted: bool = False


def is_number(cell: str) -> bool:
    """True when ``cell`` (surrounding blanks allowed) is a number in jaccli's CSV grammar."""
    return CSV_NUMBER.fullmatch(cell.strip(BLANKS)) is not None


def parse_delimiter(option: str) -> str | None | bool:
    """``--delimiter`` as given: one character, a name (``tab``, ``semicolon``, ``whitespace``, ...), or ``auto``
    (returned as True: detect it)."""
    if option == "auto":
        return True
    if option in DELIMITER_NAMES:
        return DELIMITER_NAMES[option]
    if len(option) == 1 and option not in '"#\r\n' and not option.isalnum() and option not in ".+-":
        return None if option == " " else option
    raise UsageError(f"--delimiter {option!r} is not a delimiter",
                     hint="give one character such as ',' or ';', or one of: auto, " + ", ".join(DELIMITER_NAMES))


def describe(delimiter: str | None) -> str:
    return {None: "whitespace", "\t": "tab", ",": "comma", ";": "semicolon"}.get(delimiter, repr(delimiter))


def split_line(text: str, delimiter: str | None, where: str) -> list[Cell]:
    """The cells of one line (line ending already removed); ``where`` is ``file:line`` for errors."""
    if '"' not in text:
        if delimiter is None:
            return [Cell(m.group(), m.start() + 1) for m in _WORDS.finditer(text)]
        cells, column = [], 1
        for raw in text.split(delimiter):
            stripped = raw.strip(BLANKS)
            cells.append(Cell(stripped, column + (len(raw) - len(raw.lstrip(BLANKS)) if stripped else 0)))
            column += len(raw) + 1
        return cells
    return _split_quoted(text, delimiter, where)


def _split_quoted(text: str, delimiter: str | None, where: str) -> list[Cell]:
    """The general case, one character at a time (only lines that hold a quote come here)."""
    cells: list[Cell] = []
    i, n = 0, len(text)
    while True:
        start = i
        while i < n and text[i] in BLANKS and (delimiter is None or text[i] != delimiter):
            i += 1
        if delimiter is None and i == n:
            return cells  # trailing blanks: no empty cell in whitespace mode
        if i < n and text[i] == '"':
            value, i = _quoted(text, i, where)
            after = i
            while i < n and text[i] in BLANKS and (delimiter is None or text[i] != delimiter):
                i += 1
            if i < n and text[i] != delimiter and not (delimiter is None and i > after):
                raise InputError(f"unexpected {text[i]!r} after a quoted cell", where=f"{where}:{i + 1}",
                                 hint='a quoted cell ends at its closing quote; write a quote inside it as ""')
            cells.append(Cell(value.strip(BLANKS), _first_column(text, start, delimiter), quoted=True))
        else:
            end = text.find(delimiter, i) if delimiter is not None else _blank_at(text, i)
            end = n if end < 0 else end
            if '"' in text[i:end]:
                column = text.index('"', i) + 1
                raise InputError("a quote inside an unquoted cell", where=f"{where}:{column}",
                                 hint='quote the whole cell ("...") and double the quotes inside it')
            raw = text[start:end]
            stripped = raw.strip(BLANKS)
            cells.append(Cell(stripped, (start + len(raw) - len(raw.lstrip(BLANKS)) if stripped else start) + 1))
            i = end
        if delimiter is None:  # whitespace: the run of blanks after a cell is the delimiter
            while i < n and text[i] in BLANKS:
                i += 1
        elif i < n:
            i += 1  # past the delimiter
        else:
            return cells
        if i >= n and delimiter is None:
            return cells


def _first_column(text: str, start: int, delimiter: str | None) -> int:
    i = start
    while text[i] in BLANKS and text[i] != delimiter:
        i += 1
    return i + 1


def _blank_at(text: str, i: int) -> int:
    match = _BLANK.search(text, i)
    return match.start() if match else -1


def _quoted(text: str, i: int, where: str) -> tuple[str, int]:
    """The value of the quoted cell opening at ``text[i] == '"'`` and the index just past its closing quote."""
    parts, j = [], i + 1
    while True:
        close = text.find('"', j)
        if close < 0:
            raise InputError("a quoted cell is not closed on its line", where=f"{where}:{i + 1}",
                             hint="close the quote; jaccli reads one row per line (no line breaks inside cells)")
        parts.append(text[j:close])
        if text[close + 1:close + 2] == '"':
            parts.append('"')
            j = close + 2
            continue
        return "".join(parts), close + 1


def detect_delimiter(lines: Sequence[str]) -> str | None:
    """The delimiter of a file from its first rows (header included; comments and blank lines already dropped).

    Among the candidates (tab, semicolon, comma, pipe, whitespace) that split every sample line into the same
    number (> 1) of cells, the one under which most cells are numbers wins (ties: that order). If none is
    consistent (a ragged file), the one that splits the first line most, so the error names the real problem;
    ``,`` for a one-column file."""
    scored: list[tuple[int, int, str | None]] = []
    widest: tuple[int, str | None] = (1, ",")
    for rank, candidate in enumerate((*_CANDIDATES, None)):
        try:
            rows = [split_line(line, candidate, "") for line in lines]
        except InputError:
            continue
        if rows and len(rows[0]) > widest[0]:
            widest = (len(rows[0]), candidate)
        if len({len(cells) for cells in rows}) == 1 and len(rows[0]) > 1:
            numbers = sum(is_number(c.text) for cells in rows for c in cells)
            scored.append((-numbers, rank, candidate))
    return min(scored)[2] if scored else widest[1]
