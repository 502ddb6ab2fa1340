"""CSV/TSV input: one example per row, streamed ``n`` rows at a time (memory bounded by a chunk, not the file).

Every row is an example of event shape ``S = (ncols,)``, even with one column. The header (optional) and the
first data row are read eagerly, so ``columns`` and ``ncols`` are known right after ``read_csv``.

Two parsers, one grammar. The strict scan (``_scan_line``) *is* the grammar: a cell is a Python float literal
without underscores, in ASCII (``1``, ``-2.5e3``, ``.5``, ``nan``, ``inf``, ``infinity``, any case), with optional
spaces or tabs around it. The fast path (``np.loadtxt`` over a whole chunk) only ever accepts a subset of it:
chunks holding a byte outside the number alphabet (``_``, ``x``, quotes, non-ASCII, comment text, ...) skip
it, and any failure of it re-runs the chunk through the strict scan, which then names the exact line:column.
"""
from __future__ import annotations

import math
import re
import warnings
from itertools import chain, islice
from typing import BinaryIO, Iterator, List, Optional

import numpy as np

from jaccli.errors import InputError
from jaccli.io.inputs.batch import NONFINITE_HINT, ArraySpec, Batch, Chunk, check_name, open_binary

_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)\Z", re.IGNORECASE)
_CELL_SPACE = " \t"  # may surround a cell (in TSV the tab is the delimiter, so only spaces remain)
_BOM = b"\xef\xbb\xbf"
# Bytes a chunk may hold to try the fast path: digits, signs, '.', exponent, the letters of nan/inf/infinity,
# spaces, line ends. Anything else cannot be a valid cell (or is a comment) and goes to the strict scan.
_NUMBER_BYTES = b"0123456789+-.eE naiftyNAIFTY\t\r\n"
_NUMBER_HINT = "every cell must be a number; '#' starts a comment line"


def is_number(cell: str) -> bool:
    """True when ``cell`` (surrounding spaces allowed) is a number in jaccli's CSV grammar."""
    return _NUMBER.match(cell.strip(_CELL_SPACE)) is not None


def _decode(raw: bytes, label: str, lineno: int) -> str:
    """Strict UTF-8, with the line ending removed; a bad byte is an error at its line:column."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(raw[:exc.start].decode("utf-8", "replace")) + 1
        raise InputError(f"invalid UTF-8 byte 0x{raw[exc.start]:02x}", where=f"{label}:{lineno}:{column}",
                         hint="save the file as UTF-8 (or plain ASCII) text") from None
    return text.rstrip("\r\n")


def _is_skipped(raw: bytes) -> bool:
    """Blank lines and '#' comment lines (after optional whitespace) are not rows."""
    stripped = raw.strip()
    return not stripped or stripped.startswith(b"#")


def _cell_starts(cells: List[str]) -> List[int]:
    """1-based column where each cell starts (cells joined by a one-character delimiter)."""
    starts, column = [], 1
    for cell in cells:
        starts.append(column)
        column += len(cell) + 1
    return starts


def _text_column(cell: str, start: int) -> int:
    """Column of the cell's first non-space character (where the caret belongs), or of the cell if blank."""
    stripped = cell.lstrip(_CELL_SPACE)
    return start + (len(cell) - len(stripped) if stripped else 0)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


class CsvReader:
    """The state of one CSV/TSV input: where its data rows start and how to parse a block of lines."""

    def __init__(self, path: Optional[str], stream: Optional[BinaryIO], label: str, delimiter: str,
                 allow_nonfinite: bool) -> None:
        self.path, self.stream, self.label = path, stream, label
        self.delimiter, self.allow_nonfinite = delimiter, allow_nonfinite
        self.allowed = _NUMBER_BYTES + delimiter.encode()
        self.columns: Optional[List[str]] = None
        self.ncols = 0
        self.first_raw = b""  # the first data line (BOM removed), replayed at the start of every iteration
        self.first_lineno = 0
        self.data_offset = 0  # byte offset just after the first data line (path inputs re-open and seek here)
        self.used = False
        if path is not None:
            with open_binary(path) as handle:
                self._read_head(handle)
        else:
            assert stream is not None
            self._read_head(stream)

    # --- the head: optional header and the first data line, read eagerly --------------------------------------

    def _read_head(self, handle: BinaryIO) -> None:
        header_lineno = 0
        for lineno, raw in enumerate(handle, start=1):
            self.data_offset += len(raw)
            if lineno == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            if _is_skipped(raw):
                continue
            if header_lineno == 0 and self.ncols == 0:
                cells = _decode(raw, self.label, lineno).split(self.delimiter)
                self.ncols = len(cells)
                # All names: a header. Some numbers: a data row with bad cells, which the scan reports.
                if not any(is_number(cell) for cell in cells):
                    self.columns = self._header_names(cells, lineno)
                    header_lineno = lineno
                    continue
            self.first_raw, self.first_lineno = raw, lineno
            return
        if header_lineno:
            raise InputError("the input has a header row but no data rows", where=self.label,
                             hint="add one row of numbers per example")
        raise InputError("empty input: no data rows", where=self.label,
                         hint="give one row of numbers per example ('#' lines and blank lines are skipped)")

    def _header_names(self, cells: List[str], lineno: int) -> List[str]:
        """Validate a header row: identifiers, not keywords, unique; errors point at the cell."""
        names: List[str] = []
        for cell, start in zip(cells, _cell_starts(cells)):
            name = cell.strip(_CELL_SPACE)
            where = f"{self.label}:{lineno}:{_text_column(cell, start)}"
            check_name(name, "column name", where)
            if name in names:
                raise InputError(f"column name {name!r} appears twice", where=where,
                                 hint="rename one of the columns; names must be unique")
            names.append(name)
        return names

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
            lines = chain([self.first_raw], source)
            lineno = self.first_lineno  # line number of the next line taken from `lines`
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

    def _parse_block(self, block: List[bytes], lineno: int) -> np.ndarray:
        """Rows of ``block`` (physical lines starting at ``lineno``) as a ``(rows, ncols)`` float64 array."""
        values = self._fast_parse(block)
        if values is None:
            values = self._strict_parse(block, lineno)
        return values

    def _fast_parse(self, block: List[bytes]) -> Optional[np.ndarray]:
        """Vectorised parse, or None when the block might hold anything the strict grammar refuses."""
        if self._has_foreign_byte(block):
            # Whole-line comments are fine; a '#' anywhere else still fails the alphabet check below.
            block = [line for line in block if not line.lstrip().startswith(b"#")]
            if self._has_foreign_byte(block):
                return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data" for a block of blank lines
                values = np.loadtxt(block, dtype=np.float64, delimiter=self.delimiter, comments=None,
                                    quotechar=None, ndmin=2, encoding="ascii")
        except ValueError:  # ragged row, bad cell, whitespace-only line, lone '\r': let the strict scan say where
            return None
        if values.size == 0:
            return np.empty((0, self.ncols))
        if values.shape[1] != self.ncols:
            return None
        if not self.allow_nonfinite and not np.isfinite(values).all():
            return None
        return values

    def _has_foreign_byte(self, block: List[bytes]) -> bool:
        """True when some line holds a byte outside the number alphabet."""
        # join + translate runs at C speed; joining 1024 lines at a time keeps join's per-line buffers small.
        return any(b"".join(block[i:i + 1024]).translate(None, self.allowed) for i in range(0, len(block), 1024))

    def _strict_parse(self, block: List[bytes], lineno: int) -> np.ndarray:
        rows = [self._scan_line(raw, lineno + offset) for offset, raw in enumerate(block)]
        kept = [row for row in rows if row is not None]
        return np.array(kept, dtype=np.float64).reshape(len(kept), self.ncols)

    def _scan_line(self, raw: bytes, lineno: int) -> Optional[List[float]]:
        """One physical line by the strict grammar: None for a skipped line, else its values; raises at the
        first problem with ``file:line:column``."""
        if _is_skipped(raw):
            return None
        text = _decode(raw, self.label, lineno)
        cells = text.split(self.delimiter)
        starts = _cell_starts(cells)
        if len(cells) != self.ncols:
            column = starts[self.ncols] if len(cells) > self.ncols else len(text) + 1
            against = "the header" if self.columns is not None else "the first row"
            raise InputError(f"expected {self.ncols} cells, found {len(cells)}",
                             where=f"{self.label}:{lineno}:{column}",
                             hint=f"every row needs as many cells as {against}")
        values = []
        for cell, start in zip(cells, starts):
            token = cell.strip(_CELL_SPACE)
            where = f"{self.label}:{lineno}:{_text_column(cell, start)}"
            if not _NUMBER.match(token):
                message = f"{_shown(token)} is not a number" if token else "empty cell"
                raise InputError(message, where=where, hint=_NUMBER_HINT)
            value = float(token)
            if not self.allow_nonfinite and not math.isfinite(value):
                raise InputError(f"{_shown(token)} is not a finite number", where=where, hint=NONFINITE_HINT)
            values.append(value)
        return values


def read_csv(path: Optional[str], stream: Optional[BinaryIO], label: str, delimiter: str, single_name: str,
             allow_nonfinite: bool) -> Batch:
    """Read the head of a CSV (``delimiter=','``) or TSV (``'\\t'``) input from ``path``, or from ``stream``
    when ``path`` is None; rows are parsed lazily by ``Batch.chunks``. Event shape ``(ncols,)``."""
    reader = CsvReader(path, stream, label, delimiter, allow_nonfinite)
    spec = ArraySpec((reader.ncols,), np.dtype(np.float64))
    return Batch({single_name: spec}, {}, reader.columns, None, label, lambda n: reader.chunks(n, single_name))

