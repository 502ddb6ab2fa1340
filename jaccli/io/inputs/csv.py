"""CSV/TSV input: one example per row, streamed ``n`` rows at a time (memory bounded by a chunk, not the file).

Every row is an example of event shape ``S = (ncols,)``, even with one column. The header (optional) and the
first rows are read eagerly (to tell the delimiter, the header and which columns to keep), so ``columns`` and
``ncols`` are known right after ``read_csv``. Dialects (quoting, delimiters) are in ``dialect``, the choice of
columns (``--columns``, index and label columns) in ``columns``.

Two parsers, one grammar. The strict scan (``_scan_line``) *is* the grammar: a kept cell is a Python float literal
without underscores, in ASCII (``1``, ``-2.5e3``, ``.5``, ``nan``, ``inf``, ``infinity``, any case), with optional
spaces or tabs around it, optionally quoted. The fast path (``csvfast.fast_rows`` over a whole chunk) only ever
accepts a subset of it; any block it does not accept re-runs through the strict scan, which names the exact
line:column of the first problem.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain, islice
from typing import BinaryIO, Iterator

import numpy as np

from jaccli.errors import InputError
from jaccli.io.inputs.batch import NONFINITE_HINT, ArraySpec, Batch, Chunk, open_binary
from jaccli.io.inputs.columns import ColumnOptions, choose_columns
from jaccli.io.inputs.csvfast import fast_rows, skipped
from jaccli.io.inputs.dialect import Cell, describe, detect_delimiter, is_number, parse_delimiter, split_line
from jaccli.textkit import BOM, CSV_NUMBER, decode_utf8

__all__ = ["CsvOptions", "CsvReader", "is_number", "read_csv"]

_NUMBER_HINT = "every cell must be a number; '#' starts a comment line"
_MISSING = ("na", "n/a", "null", "none", "nat", "-", "?")  # how R, pandas and spreadsheets spell a missing value
SAMPLE_ROWS = 20  # data rows read ahead to tell the delimiter
FAST_LINES = 2048  # lines per call of the vectorised parse


@dataclass(frozen=True)
class CsvOptions:
    """``--delimiter`` (one character, None for whitespace, True to detect), ``--columns``, ``--index-col``."""

    delimiter: "str | None | bool" = True
    columns: ColumnOptions = ColumnOptions()

    @classmethod
    def parse(cls, delimiter: str = "auto", columns: str | None = None, index_col: str = "auto") -> "CsvOptions":
        """The options as the command line spells them: ``--delimiter ';'``, ``--columns r,theta``, ``--index-col 0``."""
        picked = None if columns is None else tuple(name.strip() for name in columns.split(","))
        return cls(parse_delimiter(delimiter), ColumnOptions(picked, index_col))


def _decode(raw: bytes, label: str, lineno: int) -> str:
    """One physical line (its BOM already removed on line 1), strict UTF-8, without its line ending."""
    return decode_utf8(raw, label, first_line=lineno, drop_bom=False).rstrip("\r\n")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


class CsvReader:
    """The state of one CSV/TSV input: its dialect, kept columns, where its data rows start, how to parse them."""

    def __init__(self, path: str | None, stream: BinaryIO | None, label: str, allow_nonfinite: bool,
                 options: CsvOptions = CsvOptions()) -> None:
        self.path, self.stream, self.label = path, stream, label
        self.allow_nonfinite, self.options = allow_nonfinite, options
        self.delimiter: str | None = ","
        self.columns: list[str] | None = None  # names of the kept columns
        self.has_header = False
        self.ncols = 0  # cells in every line
        self.picked: list[int] = []  # positions of the kept cells
        self.notes: list[str] = []
        self.replay: list[bytes] = []  # lines read ahead (BOM removed), replayed at the start of every pass
        self.replay_lineno = 0
        self.data_offset = 0  # byte offset just after the read-ahead (path inputs re-open and seek here)
        self.used = False
        if path is not None:
            with open_binary(path) as handle:
                self._read_head(handle)
        else:
            assert stream is not None
            self._read_head(stream)

    # --- the head: dialect, optional header, kept columns -----------------------------------------------------

    def _read_head(self, handle: BinaryIO) -> None:
        physical: list[bytes] = []  # every line read so far, BOM removed; line k is physical[k - 1]
        rows: list[int] = []  # line numbers of the lines that are not skipped (header included)
        for lineno, raw in enumerate(handle, start=1):
            self.data_offset += len(raw)
            if lineno == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            physical.append(raw)
            if not skipped(raw):
                rows.append(lineno)
                if len(rows) > SAMPLE_ROWS:
                    break
        if not rows:
            raise InputError("empty input: no data rows", where=self.label,
                             hint="give one row of numbers per example ('#' lines and blank lines are skipped)")
        texts = [_decode(physical[k - 1], self.label, k) for k in rows]
        given = self.options.delimiter
        self.delimiter = detect_delimiter(texts) if given is True else given  # type: ignore[assignment]
        cells = split_line(texts[0], self.delimiter, f"{self.label}:{rows[0]}")
        # All names: a header. Some numbers: a data row with bad cells, which the scan reports.
        self.has_header = not any(is_number(cell.text) for cell in cells)
        if self.has_header and len(rows) == 1:
            raise InputError("the input has a header row but no data rows", where=self.label,
                             hint="add one row of numbers per example")
        first = 1 if self.has_header else 0
        first_row = split_line(texts[first], self.delimiter, f"{self.label}:{rows[first]}")
        choice = choose_columns(cells if self.has_header else None, first_row, self.options.columns,
                                f"{self.label}:{rows[0]}")
        self.ncols = len(cells)
        self.picked, self.columns, self.notes = choice.picked, choice.names, choice.notes
        self.replay_lineno = rows[first]  # every pass starts at the first data line
        self.replay = physical[rows[first] - 1:]

    # --- the rows: chunks of n examples ---------------------------------------------------------------------

    def chunks(self, n: int, name: str) -> Iterator[Chunk]:
        """Start a pass over the data rows (a file is re-opened each time; standard input is read once)."""
        if self.path is None:
            if self.used:
                raise RuntimeError("standard input can be iterated only once")
            self.used = True
        return self._generate(n, name)

    def _generate(self, n: int, name: str) -> Iterator[Chunk]:
        handle = None
        if self.path is not None:
            handle = open_binary(self.path)
            handle.seek(self.data_offset)
        source = handle if handle is not None else self.stream
        assert source is not None  # without a path, the constructor required a stream
        try:
            lines = chain(self.replay, source)
            lineno = self.replay_lineno  # line number of the next line taken from `lines`
            at_end = False
            while not at_end:
                parts, have = [], 0
                # Fill exactly n rows (comment and blank lines do not count), so chunks are even.
                while have < n:
                    block = list(islice(lines, n - have))
                    if not block:
                        at_end = True  # never read again: a terminal's standard input would wait for more
                        break
                    values = self._parse_block(block, lineno)
                    lineno += len(block)
                    del block  # release the raw lines before the next block is read: one chunk in memory
                    if len(values):
                        parts.append(values)
                        have += len(values)
                if parts:
                    yield {name: parts[0] if len(parts) == 1 else np.concatenate(parts)}
        finally:
            if handle is not None:
                handle.close()

    def _parse_block(self, block: list[bytes], lineno: int) -> np.ndarray:
        """Rows of ``block`` (physical lines starting at ``lineno``) as a ``(rows, len(picked))`` float64 array."""
        parts = []
        # A few thousand lines at a time: the fast path's temporaries (joined text, parsed list) stay small.
        for start in range(0, len(block), FAST_LINES):
            part = block[start:start + FAST_LINES]
            values = fast_rows(part, self.ncols, self.picked, self.delimiter, self.allow_nonfinite)
            parts.append(values if values is not None else self._strict_parse(part, lineno + start))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _strict_parse(self, block: list[bytes], lineno: int) -> np.ndarray:
        rows = [self._scan_line(raw, lineno + offset) for offset, raw in enumerate(block)]
        kept = [row for row in rows if row is not None]
        return np.array(kept, dtype=np.float64).reshape(len(kept), len(self.picked))

    def _scan_line(self, raw: bytes, lineno: int) -> list[float] | None:
        """One physical line by the strict grammar: None for a skipped line, else the kept values; raises at the
        first problem with ``file:line:column``."""
        if skipped(raw):
            return None
        text = _decode(raw, self.label, lineno)
        cells = split_line(text, self.delimiter, f"{self.label}:{lineno}")
        if len(cells) != self.ncols:
            column = cells[self.ncols].column if len(cells) > self.ncols else len(text) + 1
            against = "the header" if self.has_header else "the first row"
            hint = f"every row needs as many cells as {against}"
            if self.options.delimiter is True:
                hint += f" (the delimiter is {describe(self.delimiter)}; --delimiter sets it)"
            raise InputError(f"expected {self.ncols} cells, found {len(cells)}",
                             where=f"{self.label}:{lineno}:{column}", hint=hint)
        return [self._number(cells[i], lineno) for i in self.picked]

    def _number(self, cell: Cell, lineno: int) -> float:
        where = f"{self.label}:{lineno}:{cell.column}"
        if not CSV_NUMBER.fullmatch(cell.text):
            message = f"{_shown(cell.text)} is not a number" if cell.text else "empty cell"
            hint = _NUMBER_HINT
            if cell.text.lower() in _MISSING:
                hint = "a missing value is not a number: drop the row, or write nan and pass --allow-nonfinite"
            elif self.delimiter != "," and "," in cell.text:
                hint += "; decimal commas are not read: write 1.5, not 1,5"
            elif self.has_header:
                hint += "; --columns picks the columns that make up a row"
            raise InputError(message, where=where, hint=hint)
        value = float(cell.text)
        if not self.allow_nonfinite and not math.isfinite(value):
            raise InputError(f"{_shown(cell.text)} is not a finite number", where=where, hint=NONFINITE_HINT)
        return value


def read_csv(path: str | None, stream: BinaryIO | None, label: str, single_name: str,
             allow_nonfinite: bool, options: CsvOptions = CsvOptions()) -> Batch:
    """Read the head of a CSV/TSV input from ``path``, or from ``stream`` when ``path`` is None; rows are parsed
    lazily by ``Batch.chunks``. Event shape ``(len(kept columns),)``; skipped columns are told in ``notes``."""
    reader = CsvReader(path, stream, label, allow_nonfinite, options)
    spec = ArraySpec((len(reader.picked),), np.dtype(np.float64))
    return Batch({single_name: spec}, {}, reader.columns, None, label, lambda n: reader.chunks(n, single_name),
                 notes=reader.notes)
