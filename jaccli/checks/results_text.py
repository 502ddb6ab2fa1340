"""The text side of reading a golden file: the csv and text parsers (the number grammar and UTF-8 decoding they
use are ``jaccli.textkit``'s).

Both parsers are strict and report a bad file as an ``InputError`` at ``file:line:column``. They return plain
float64 arrays (the text print also its dtype); ``golden`` wraps them into a ``Result`` and casts to the dtype.
"""
from __future__ import annotations

import math
import re

import numpy as np

from jaccli.errors import InputError
from jaccli.io.labels import index_header
from jaccli.textkit import RESULT_NUMBER, decode_utf8

DTYPES = {name: np.dtype(name) for name in ("float16", "float32", "float64")}  # the dtypes a result can have

# A number as numpy prints it (``48.``, ``-1.2e-05``, ``1.e+10``, ``nan``, ``-inf``) or as Python's repr writes it.
_NUMBER_RE = re.compile(RESULT_NUMBER)
_TEXT_TAIL_RE = re.compile(r",\s*shape=\(([0-9, ]*)\),\s*dtype=(\w+)\)\s*\Z")
_TEXT_TOKEN_RE = re.compile(r"\[|\]|[^\s\[\]]+")
_CSV_CELL_RE = re.compile(r"J((?:\[[0-9]+\])*)")
_CSV_HINT = "a jaccli csv header lists every J[...] of one example in C order"
# A golden file that does not read back was edited or cut short: jaccli writes every part of it itself.
REWRITE_HINT = "write the golden file again with jaccli (batch-jacobian ... -o FILE) instead of editing it"


def _error_at(message: str, label: str, text: str, offset: int, hint: str | None = None) -> InputError:
    """An InputError at ``label:line:column`` (1-based) of a character offset in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return InputError(message, where=f"{label}:{line}:{column}", hint=hint)


# -- csv --------------------------------------------------------------------------------------------------------------

def parse_csv(data: bytes, label: str) -> tuple[np.ndarray, bool]:
    """The rows of a jaccli csv file as a float64 array ``(B, *per-example shape)``, the header checked first,
    and whether the header names entries (``d y[0]/d r``, ``--header names``): the per-example shape is then not
    written down, and the array is ``(B, cells)``."""
    lines = decode_utf8(data, label).replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines:
        raise InputError("empty file: expected a header row J[0][0],J[0][1],...", where=label,
                         hint=REWRITE_HINT)
    header = lines[0].split(",")
    last = _CSV_CELL_RE.fullmatch(header[-1])
    named = last is None and not any(_CSV_CELL_RE.fullmatch(cell) for cell in header) and all(header)
    if named:
        return _csv_rows(lines, label, (len(header),)), True
    if last is None:
        raise InputError(f"{header[-1]!r} is not a header cell like J or J[0][1]",
                         where=f"{label}:1:{len(lines[0]) - len(header[-1]) + 1}", hint=_CSV_HINT)
    per_example = tuple(int(i) + 1 for i in re.findall(r"[0-9]+", last.group(1)))
    if math.prod(per_example) != len(header):  # checked first: a lying last cell must not make us build a huge list
        raise InputError(f"the header has {len(header)} cells, but its last cell {header[-1]} implies "
                         f"{math.prod(per_example)}", where=f"{label}:1:1", hint=_CSV_HINT)
    cells = index_header(per_example)
    if header != cells:
        column = 1
        for found, wanted in zip(header + [""], cells + [""]):
            if found != wanted:
                break
            column += len(found) + 1
        raise InputError(f"header cell {found!r} is not {wanted!r} (per-example shape {per_example})",
                         where=f"{label}:1:{column}", hint=_CSV_HINT)
    return _csv_rows(lines, label, per_example), False


def _csv_rows(lines: list[str], label: str, per_example: tuple[int, ...]) -> np.ndarray:
    if len(lines) == 1:
        raise InputError("the file has a header row but no data rows", where=label, hint=REWRITE_HINT)
    row_re = re.compile(f"{RESULT_NUMBER}(?:,{RESULT_NUMBER})*")
    width = math.prod(per_example)
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        row = line.split(",")
        if len(row) != width or not row_re.fullmatch(line):
            _csv_row_error(row, width, f"{label}:{lineno}")
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape((len(rows), *per_example))


def _csv_row_error(row: list[str], width: int, where: str) -> None:
    """Point at the first bad cell of a row, or at its end when it is short or long."""
    column = 1
    for cell in row:
        if not _NUMBER_RE.fullmatch(cell):
            raise InputError(f"{cell!r} is not a number", where=f"{where}:{column}",
                             hint="cells are numbers such as 1.5, -2e-05, nan, inf")
        column += len(cell) + 1
    raise InputError(f"{len(row)} cells, but the header has {width}", where=f"{where}:1",
                     hint="every row has one cell per header cell")


# -- text -------------------------------------------------------------------------------------------------------------

def parse_text(data: bytes, label: str) -> tuple[np.ndarray, np.dtype] | None:
    """jaccli's text print as its float64 values (shaped as it says) and the dtype it names; None for ``None``."""
    text = decode_utf8(data, label)
    if text.strip() == "None":
        return None
    tail = _TEXT_TAIL_RE.search(text)
    if not text.startswith("Tensor(") or tail is None:
        raise InputError("expected jaccli's text print 'Tensor(..., shape=(...), dtype=...)' or 'None'",
                         where=f"{label}:1:1", hint=REWRITE_HINT)
    if tail.group(2) not in DTYPES:
        raise _error_at(f"dtype {tail.group(2)!r} is not float16, float32 or float64", label, text, tail.start(2),
                        "e.g. dtype=float64")
    if not re.fullmatch(r"([0-9]+(, ?[0-9]+)*,?)?", tail.group(1).strip()):
        raise _error_at(f"shape ({tail.group(1)}) is not a tuple of sizes", label, text, tail.start(1),
                        "e.g. shape=(2, 3, 3)")
    shape, dtype = tuple(int(n) for n in re.findall(r"[0-9]+", tail.group(1))), DTYPES[tail.group(2)]
    return _text_values(text, len("Tensor("), tail.start(), shape, label), dtype


def _text_values(text: str, start: int, end: int, shape: tuple[int, ...], label: str) -> np.ndarray:
    """The numbers of numpy's print in ``text[start:end]``, with the bracket structure checked against ``shape``."""
    def fail(message: str, offset: int) -> None:
        raise _error_at(message, label, text, offset, REWRITE_HINT)

    if math.prod(shape) == 0 and shape:
        if text[start:end].strip() != "[]":
            fail(f"an empty array of shape {shape} prints as []", start)
        return np.zeros(shape)
    counts: list[int] = []  # items seen at each open bracket level
    values: list[float] = []
    done = False
    for match in _TEXT_TOKEN_RE.finditer(text, start, end):
        token, offset = match.group(), match.start()
        if done:
            fail(f"unexpected {token!r} after the end of the array", offset)
        if token == "[":
            if len(counts) == len(shape):
                fail(f"too many nested brackets for shape {shape}", offset)
            if counts:
                counts[-1] += 1
            counts.append(0)
        elif token == "]":
            if not counts or counts[-1] != shape[len(counts) - 1]:
                fail(f"expected {shape[len(counts) - 1] if counts else 0} items here (shape {shape}), "
                     f"found {counts[-1] if counts else 0}", offset)
            counts.pop()
            done = not counts
        elif len(counts) != len(shape) or not _NUMBER_RE.fullmatch(token):
            fail(f"{token!r} is not a number" if _NUMBER_RE.fullmatch(token) is None
                 else f"a number outside the innermost brackets (shape {shape})", offset)
        else:
            values.append(float(token))
            if counts:
                counts[-1] += 1
            done = not shape  # a scalar is one number and nothing else
    if not done:
        fail(f"the array is incomplete (shape {shape})", end)
    return np.array(values, dtype=np.float64).reshape(shape)
