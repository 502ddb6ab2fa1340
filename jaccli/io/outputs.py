"""The output formats of the README's "Outputs" section, written chunk by chunk.

A result has layout ``(B, *T, *S, ..., *S)``. The CLI computes it a few examples at a time, so every format is a
``TensorWriter``: ``begin`` once with the per-example shape, ``write_chunk`` with arrays of shape
``(b, *per_example_shape)``, ``finish`` once. The bytes depend only on the whole result, never on how it was cut into
chunks, and never on the time or the environment (golden files depend on it).

- text: TensorFlow's tensor print without ``tf.``, never summarised; NumPy's own ``str()`` for small results, the
        same bytes from ``jaccli.io.text`` (spooled, then streamed in passes) for large ones.
- json: one object ``{"shape", "dtype", "order", "layout", "data"}``; floats in shortest round-trip form
        (``jaccli.io.floats``); streams (``"shape"`` last when the batch size is not known up front).
- csv:  a header row ``J[0][0],J[0][1],...`` and one row per example; streams.
- npy:  exactly ``np.save``'s bytes; streams when the batch size is known up front.

A None result (target not connected to the source) is written with ``write_none``.
"""
from __future__ import annotations

import io
import json
import sys
import tempfile
from typing import IO, Any, Iterator, Protocol, Sequence

import numpy as np

from jaccli.errors import UsageError
from jaccli.io.labels import csv_header_line
from jaccli.io.floats import csv_rows, json_items
from jaccli.io.formats import OUTPUT_EXTENSIONS, OUTPUT_FORMATS as FORMATS, check_format  # npz: jaccli.io.npz
from jaccli.io.stream import SPOOL_MAX_SIZE
from jaccli.io.writer_base import _HeaderFirstWriter, _Writer

# numpy's default print options, spelled out so that a caller's np.set_printoptions cannot change our bytes.
_NUMPY_DEFAULT_PRINT: dict[str, Any] = dict(
    edgeitems=3, linewidth=75, suppress=False, nanstr="nan", infstr="inf",
    sign="-", floatmode="maxprec", formatter=None, legacy=False,
)
_DEFAULT_PRECISION = 8
JSON_HOLD_BYTES = 32 << 20  # JSON text held back to write "shape" first when B is not known up front
CSV_ROWS_PER_WRITE = 16_384
#: Up to this many values, text output is NumPy's own ``str()``; above, ``jaccli.io.text`` streams the same bytes.
SMALL_TEXT_VALUES = 4096
TEXT_BLOCK_VALUES = 1 << 16
_SUPPORTED_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


class TensorWriter(Protocol):
    """Streams one result: ``begin``, any number of ``write_chunk``, ``finish``."""

    def begin(
        self, per_example_shape: tuple[int, ...], dtype: np.dtype, batch_size: int | None, order: int,
        layout: list[str],
    ) -> None: ...

    def write_chunk(self, chunk: np.ndarray) -> None: ...

    def finish(self) -> None: ...


# -- number formatting ------------------------------------------------------------------------------------------------

def format_text(array: np.ndarray | None, precision: int | None = None) -> str:
    """The seed article's tensor print without ``tf.`` and without a trailing newline; ``"None"`` for None.

    ``str(array)`` under numpy's default print options except that nothing is summarised with ``...`` and
    ``precision`` (default 8) digits are shown, wrapped as TensorFlow's ``EagerTensor.__str__`` does::

        Tensor(
        [[48.  0.]
         [ 0. 12.]], shape=(2, 2), dtype=float32)
    """
    if array is None:
        return "None"
    array = np.asarray(array)
    digits = _check_precision(precision)
    with np.printoptions(**_NUMPY_DEFAULT_PRINT, precision=digits, threshold=sys.maxsize):
        text = str(array)
    newline = "\n" if "\n" in text else ""
    return f"Tensor({newline}{text}, shape={tuple(array.shape)}, dtype={array.dtype.name})"


def _check_precision(precision: int | None) -> int:
    digits = _DEFAULT_PRECISION if precision is None else precision
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 0:
        raise UsageError(f"precision must be a whole number >= 0, not {precision!r}",
                         hint=f"e.g. precision=6 (None gives {_DEFAULT_PRECISION} digits)")
    return int(digits)


def _json_header(shape: Sequence[int], dtype: np.dtype, order: int, layout: Sequence[str]) -> str:
    """Everything before the data, in the fixed key order of the README's "Outputs" section."""
    head = json.dumps({"shape": [int(n) for n in shape], "dtype": dtype.name, "order": int(order),
                       "layout": list(layout)})
    return head[:-1] + ', "data": '


# -- writers ----------------------------------------------------------------------------------------------------------

class TextWriter(_Writer):
    """NumPy's tensor print, streamed: the chunks go to a spool (memory, then disk), then out in NumPy's layout.

    Small results (up to ``SMALL_TEXT_VALUES`` values) are printed by NumPy itself; larger ones by
    ``jaccli.io.text``, which writes the same bytes chunk by chunk with memory flat in the batch size.
    """

    def __init__(self, file: IO[bytes], precision: int | None = None) -> None:
        super().__init__(file)
        self.precision = _check_precision(precision)
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="w+b")

    def _start(self) -> None:
        from jaccli.io.text import Magnitudes

        self.magnitudes = Magnitudes(self.dtype)

    def _write(self, chunk: np.ndarray) -> None:
        self.magnitudes.add(chunk)  # pass A, while the result is computed
        self.spool.write(chunk.data.cast("B") if chunk.size else b"")

    def _end(self) -> None:
        from jaccli.io.text import stream_text

        per_example = int(np.prod(self.shape, dtype=np.int64))
        shape = self.full_shape()
        try:
            # float16 (never a CLI result: float16 input computes in float32) has no fast shortest digits.
            if self.count * per_example <= SMALL_TEXT_VALUES or self.dtype == np.float16:
                whole = np.concatenate(list(self._blocks())) if self.count else np.zeros(shape, self.dtype)
                self.file.write((format_text(whole, self.precision) + "\n").encode("ascii"))
            else:
                stream_text(self._blocks, shape, self.dtype, self.magnitudes, self.precision, self.file.write)
        finally:
            self.spool.close()

    def _blocks(self) -> Iterator[np.ndarray]:
        """The spooled result again, ~64k values at a time (each pass of the text formatter reads it once)."""
        per_example = max(1, int(np.prod(self.shape, dtype=np.int64)))
        rows = max(1, TEXT_BLOCK_VALUES // per_example)
        row_bytes = per_example * self.dtype.itemsize
        self.spool.seek(0)
        for start in range(0, self.count, rows):
            n = min(rows, self.count - start)
            data = self.spool.read(n * row_bytes)
            yield np.frombuffer(data, dtype=self.dtype).reshape(n, *self.shape)


class JsonWriter(_Writer):
    """``{"shape": [...], "dtype": ..., "order": k, "layout": [...], "data": [...]}`` and a newline; streams.

    When the batch size is not known up front (CSV/TSV input), the data is held back in memory up to
    ``JSON_HOLD_BYTES`` so that a result of ordinary size still starts with ``"shape"`` (the same bytes as from an
    NPY input). A larger one is not held: its object puts ``"shape"`` last, after ``"data"`` (the same keys, valid
    JSON). Either way the bytes depend only on the result, never on the chunking.
    """

    def _start(self) -> None:
        self.held: io.BytesIO | None = None
        if self.batch_size is not None:
            head = _json_header(self.full_shape(), self.dtype, self.order, self.layout)
            self.file.write((head + "[").encode("ascii"))
        else:
            self.held = io.BytesIO()

    def _release(self) -> None:
        """Too much to hold: the object starts without its shape, and the held data follows."""
        assert self.held is not None
        head = json.dumps({"dtype": self.dtype.name, "order": int(self.order), "layout": self.layout})
        self.file.write((head[:-1] + ', "data": [').encode("ascii"))
        self.file.write(self.held.getvalue())
        self.held = None

    def _write(self, chunk: np.ndarray) -> None:
        # json.dumps of a list is "[" + ", ".join(items) + "]", so joining chunks with ", " gives the same bytes.
        # A slice of rows at a time, as for CSV: the text of a whole chunk would be tens of MB at once.
        for start in range(0, chunk.shape[0], CSV_ROWS_PER_WRITE):
            first = self.count == 0 and start == 0
            text = (b"" if first else b", ") + json_items(chunk[start:start + CSV_ROWS_PER_WRITE])
            (self.file if self.held is None else self.held).write(text)
            if self.held is not None and self.held.tell() > JSON_HOLD_BYTES:
                self._release()

    def _end(self) -> None:
        if self.held is not None:  # all of it was held: now B is known, so "shape" comes first
            head = _json_header(self.full_shape(), self.dtype, self.order, self.layout)
            self.file.write((head + "[").encode("ascii") + self.held.getvalue() + b"]}\n")
            self.held = None
        elif self.batch_size is not None:
            self.file.write(b"]}\n")
        else:
            self.file.write(("], \"shape\": " + json.dumps(list(self.full_shape())) + "}\n").encode("ascii"))


class CsvWriter(_Writer):
    """A header row (``header`` cells, default the per-example indices), then one row per example (C order)."""

    def __init__(self, file: IO[bytes], header: list[str] | None = None) -> None:
        super().__init__(file)
        self.header = header

    def _start(self) -> None:
        self.file.write(csv_header_line(self.header, self.shape))

    def _write(self, chunk: np.ndarray) -> None:
        # Shortest round-trip floats (orjson's digits in repr's layout), a slice of rows at a time: the text of a
        # 350 000-row chunk would be ~100 MB at once.
        for start in range(0, chunk.shape[0], CSV_ROWS_PER_WRITE):
            self.file.write(csv_rows(chunk[start:start + CSV_ROWS_PER_WRITE]))


class NpyWriter(_HeaderFirstWriter):
    """numpy's ``.npy`` format 1.0, byte-identical to ``np.save`` of the whole result."""

    def _header(self) -> bytes:
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": self.full_shape()}
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(buffer, header)
        return buffer.getvalue()

    def _write(self, chunk: np.ndarray) -> None:
        self.data.write(chunk.data.cast("B") if chunk.size else b"")  # C-order raw bytes, like np.save


# -- entry points -----------------------------------------------------------------------------------------------------

def _check_format(fmt: str) -> None:
    check_format(fmt, FORMATS, "output")


def format_for_path(path: str | None) -> str:
    """The format ``-o PATH`` asks for by its extension when ``-f`` is not given (``out.npy`` -> npy); text
    otherwise, as for standard output. A file named ``.npy`` holding a text dump would only fail later, in np.load."""
    import os

    return OUTPUT_EXTENSIONS.get(os.path.splitext(path or "")[1].lower(), "text")


def make_writer(fmt: str, file: IO[bytes], *, precision: int | None = None,
                header: list[str] | None = None) -> TensorWriter:
    """A streaming writer for ``fmt`` (one of ``FORMATS``) onto a binary file. ``precision`` only affects text
    (``jaccli.io.rounding`` rounds csv/json); ``header``: csv header cells (``jaccli.io.labels``), else ``J[i]``."""
    _check_format(fmt)
    if fmt == "text":
        return TextWriter(file, precision)
    if fmt == "csv":
        return CsvWriter(file, header)
    if fmt == "npz":
        from jaccli.io.npz import NpzTensorWriter

        return NpzTensorWriter(file)
    return {"json": JsonWriter, "csv": CsvWriter, "npy": NpyWriter}[fmt](file)


def write_tensor(
    fmt: str, file: IO[bytes], array: np.ndarray, *, order: int, layout: list[str], precision: int | None = None,
) -> None:
    """Write a whole result ``(B, ...)`` in one go (one chunk)."""
    array = np.asarray(array)
    writer = make_writer(fmt, file, precision=precision)
    writer.begin(array.shape[1:], array.dtype, array.shape[0], order, layout)
    writer.write_chunk(array)
    writer.finish()


def write_none(
    fmt: str, file: IO[bytes], *, shape: Sequence[int], dtype: np.dtype, order: int, layout: list[str],
) -> None:
    """Write a None result: ``None`` in text, ``"data": null`` in json; csv and npy cannot represent it.

    ``shape`` and ``dtype`` describe the result that would be there (the full shape, batch axis first).
    """
    _check_format(fmt)
    if fmt == "text":
        file.write(b"None\n")
    elif fmt == "json":
        file.write((_json_header(shape, np.dtype(dtype), order, layout) + "null}\n").encode("ascii"))
    else:
        refuse_none_as(fmt)


def refuse_none_as(fmt: str) -> None:
    """The one rule for a None result: only text (``None``) and JSON (``"data": null``) can say it; csv, npy, npz
    and the Dask stores hold numbers only. Called early, before any data is read, and by ``write_none`` itself."""
    if fmt not in ("text", "json"):
        raise UsageError(f"a None result cannot be written as {fmt}",
                         hint="use --unconnected zero to get zeros, or -f text/json")
