"""The vectorised CSV parse: a whole block of lines at C speed, or None when anything might be wrong.

It never decides that data is bad; it only accepts blocks that are certainly good, and ``csv.CsvReader`` re-reads
any other block with the strict per-cell scan, which then names the exact ``line:column``. Accepted means:

- the rows are rectangular: separators are counted per line with NumPy (a short row and a long row cannot cancel);
- the picked cells, joined with ``,`` inside ``[...]``, are a JSON array of exactly ``rows * len(picked)``
  numbers. JSON numbers are a subset of jaccli's cell grammar (no ``+1``, ``.5``, ``1.``, ``nan``), parsed with
  correct rounding by orjson, ~2x faster than ``np.loadtxt``. Cells JSON refuses get a second chance through
  ``float()`` on cells made only of number bytes (which then accepts exactly the grammar), then the strict scan.

JSON reads ``-0`` as the integer 0, so zeros parsed from integer text get their sign back from the cell text.
"""
from __future__ import annotations

import csv
import functools
import io
import re
from typing import Any, Sequence

import numpy as np

from jaccli.textkit import csv_number_bytes

orjson: Any
try:  # orjson is a dependency; without it the float() route below still parses every valid block
    import orjson
except ImportError:  # pragma: no cover - exercised only on a machine without orjson
    orjson = None

_NUMBER_BYTES = csv_number_bytes() + b" \t"  # and the blanks a cell may have around its number
_NEWLINE, _COMMA = ord("\n"), ord(",")


def skipped(line: bytes) -> bool:
    """Blank lines and '#' comment lines (after optional whitespace) are not rows."""
    stripped = line.strip()
    return not stripped or stripped.startswith(b"#")


def fast_rows(block: Sequence[bytes], ncols: int, picked: Sequence[int], delimiter: str | None,
              allow_nonfinite: bool) -> np.ndarray | None:
    """``(rows, len(picked))`` float64 values of the block's data lines, or None (let the strict scan decide).

    ``ncols`` is the number of cells every line must have, ``picked`` the positions of the cells kept (in order),
    ``delimiter`` one character or None for whitespace."""
    blob = b"".join(block)
    if b"#" in blob or b"\n\n" in blob or blob[:1] in (b"\n", b"\r", b" ", b"\t"):
        block = [line for line in block if not skipped(line)]
        blob = b"".join(block)
    if not block:
        return np.empty((0, len(picked)))
    if not blob.endswith(b"\n"):
        blob += b"\n"
    if b"\r" in blob:
        blob = blob.replace(b"\r\n", b"\n")
        if b"\r" in blob:
            return None  # a lone carriage return: the strict scan says where
    if b'"' in blob and delimiter is not None and _simply_quoted(blob, delimiter):
        blob = blob.replace(b'"', b"")  # every quote opens or closes a whole cell: drop them, as a CSV reader would
    cells: bytes | list[bytes] | None
    if b'"' in blob:
        cells = _quoted_cells(blob, ncols, delimiter, len(block))
    else:
        cells = _plain_cells(blob, ncols, delimiter, len(block), all_picked=list(picked) == list(range(ncols)))
    if cells is None or (isinstance(cells, list) and len(cells) != len(block) * ncols):
        return None  # e.g. a form feed inside a whitespace-separated cell: split() cut it in two
    if isinstance(cells, bytes):  # every cell of every row, already joined with ','
        body = cells
    else:
        kept: list[bytes] = [b""] * (len(block) * len(picked))
        for k, j in enumerate(picked):  # slice copies run at C speed; no per-cell Python code
            kept[k::len(picked)] = cells[j::ncols]
        body = b",".join(kept)
    values = _numbers(body, len(block) * len(picked), allow_nonfinite)
    return None if values is None else values.reshape(len(block), len(picked))


def _plain_cells(blob: bytes, ncols: int, delimiter: str | None, nlines: int,
                 all_picked: bool) -> bytes | list[bytes] | None:
    """Cells of a block without quotes: the joined body when every cell is kept, else the list of cells."""
    u = np.frombuffer(blob, dtype=np.uint8)
    newlines = np.flatnonzero(u == _NEWLINE)
    if len(newlines) != nlines:
        return None
    if delimiter is None:
        if b"\x0b" in blob or b"\x0c" in blob:
            return None  # bytes.split() would take these for blanks; the grammar does not
        blank = (u == ord(" ")) | (u == ord("\t")) | (u == _NEWLINE)
        starts = np.flatnonzero(~blank & np.concatenate(([True], blank[:-1])))
        if not _per_line(starts, newlines, ncols):
            return None
        cells = blob.split()
        return b",".join(cells) if all_picked else cells
    code = ord(delimiter)
    if not _per_line(np.flatnonzero(u == code), newlines, ncols - 1):
        return None
    if delimiter != "," and b"," in blob:
        return None  # a comma inside a cell (a decimal comma?) would become a cell of its own
    body = blob.replace(delimiter.encode(), b",").replace(b"\n", b",")[:-1]
    return body if all_picked else body.split(b",")


def _per_line(positions: np.ndarray, newlines: np.ndarray, each: int) -> bool:
    """True when exactly ``each`` of ``positions`` fall on every line (lines end at ``newlines``)."""
    before = np.searchsorted(positions, newlines)  # how many come before each line's end
    return bool(len(positions) == each * len(newlines)
                and np.array_equal(before, np.arange(1, len(newlines) + 1) * each))


def _simply_quoted(blob: bytes, delimiter: str) -> bool:
    """True when every quote opens a cell right after a delimiter or line start and is closed on the same line
    right before a delimiter or line end, with no delimiter and no quote inside (what R writes for row names and
    labels). Then removing the quotes gives exactly the cells; anything else goes through the csv module."""
    if b'""' in blob:
        return False  # an escaped quote, or an empty quoted cell
    u = np.frombuffer(blob, dtype=np.uint8)
    quotes = np.flatnonzero(u == ord('"'))
    if len(quotes) % 2:
        return False
    opens, closes = quotes[0::2], quotes[1::2]
    code = ord(delimiter)
    before = np.concatenate(([_NEWLINE], u))[opens]  # the byte before each opening quote (a newline at the start)
    after = u[closes + 1] if closes[-1] + 1 < len(u) else None
    if after is None or not np.isin(before, (code, _NEWLINE)).all() or not np.isin(after, (code, _NEWLINE)).all():
        return False
    separators = np.flatnonzero((u == code) | (u == _NEWLINE))
    return bool(np.array_equal(np.searchsorted(separators, opens), np.searchsorted(separators, closes)))


@functools.lru_cache(maxsize=8)
def _well_quoted(delimiter: str) -> "re.Pattern[bytes]":
    """Lines of cells that are either unquoted (no quote at all) or wholly quoted (``""`` inside, blanks around),
    as the strict scan reads them; the csv module is more lenient, so its input is checked with this first.
    Atomic groups keep the match linear."""
    d = re.escape(delimiter.encode())
    cell = rb'(?>[ \t]*"(?:[^"\n]|"")*"[ \t]*|[^"\n' + d + rb']*)'
    return re.compile(rb"(?:" + cell + rb"(?:" + d + cell + rb")*\n)*")


def _quoted_cells(blob: bytes, ncols: int, delimiter: str | None, nlines: int) -> list[bytes] | None:
    """Cells of a block with quoted cells, through Python's C csv reader in strict mode; None on any doubt."""
    if delimiter is None:
        return None  # quoted cells in a whitespace-separated file: rare, the strict scan handles them
    if _well_quoted(delimiter).fullmatch(blob) is None:
        return None  # a quote inside an unquoted cell, text after a closing quote, ...: the strict scan says where
    try:
        text = blob.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    if len(rows) != nlines or any(len(row) != ncols for row in rows):
        return None  # a quote spanning lines, or a ragged row
    return [cell.encode() for row in rows for cell in row]


def _numbers(body: bytes, count: int, allow_nonfinite: bool) -> np.ndarray | None:
    """``count`` numbers from cells joined by ',', or None. Only number bytes may appear (so JSON can only give
    numbers, never true/null/lists); JSON first, then float(), which on these bytes accepts exactly the grammar."""
    if body.translate(None, _NUMBER_BYTES + b","):
        return None
    if orjson is not None:
        try:
            parsed = orjson.loads(b"[" + body + b"]")
        except orjson.JSONDecodeError:
            parsed = None
        if parsed is not None and len(parsed) == count:
            values = np.fromiter(parsed, dtype=np.float64, count=count)
            _restore_negative_zeros(values, parsed, body)
            return values
    try:
        values = np.fromiter(map(float, body.split(b",")), dtype=np.float64)
    except ValueError:
        return None
    if len(values) != count or (not allow_nonfinite and not np.isfinite(values).all()):
        return None
    return values


def _restore_negative_zeros(values: np.ndarray, parsed: list, body: bytes) -> None:
    """JSON's ``-0`` is the integer 0; float text ``-0.0`` already parsed as -0.0. Fix the integer ones."""
    zeros = [int(i) for i in np.flatnonzero(values == 0) if type(parsed[i]) is int]
    if not zeros or b"-" not in body:
        return
    commas = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == _COMMA)
    for i in zeros:
        start = int(commas[i - 1]) + 1 if i else 0
        if body[start:start + 64].lstrip(b" \t").startswith(b"-"):
            values[i] = -0.0
