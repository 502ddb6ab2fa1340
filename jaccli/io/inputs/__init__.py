"""Batched input files: ``read_batch`` turns CSV/TSV/NPY/NPZ/JSON (or standard input) into a ``Batch``.

``Batch.arrays`` and ``Batch.columns`` describe the data right away (shapes, dtypes, names); the values come
later, ``n`` examples at a time, from ``Batch.chunks(n)``, so a big CSV or NPY file is never held whole. Bad data
raises ``InputError`` (exit 3) naming ``file:line:column`` (text) or ``file: array 'name' index (i, j)``.

    batch = read_batch("data.csv")            # header 'a,b' -> columns ['a', 'b'], arrays {'x': ((2,), float64)}
    for chunk in batch.chunks(10_000):
        x = chunk["x"]                        # (b, 2) float64, b <= 10 000
"""
from __future__ import annotations

import dataclasses
import io
import os
import sys
from typing import BinaryIO

from jaccli.errors import InputError, UsageError
from jaccli.io.formats import INPUT_EXTENSIONS as EXTENSIONS, INPUT_FORMATS as FORMATS, check_format
from jaccli.io.inputs.batch import ArraySpec, Batch, Chunk, batch_from_arrays, open_binary, read_all
from jaccli.io.inputs.columns import ColumnOptions
from jaccli.io.inputs.compression import compression_of, sniff_format, sniff_stream, without_compression
from jaccli.io.inputs.csv import CsvOptions, read_csv
from jaccli.io.inputs.jsonfile import read_json
from jaccli.io.inputs.npy import read_npy
from jaccli.io.inputs.npz import read_npz
from jaccli.textkit import STDIN_LABEL, label_for

__all__ = ["ArraySpec", "Batch", "Chunk", "ColumnOptions", "CsvOptions", "FORMATS", "batch_from_arrays", "read_batch", "resolve_format"]


def resolve_format(path: str, fmt: str = "auto") -> str:
    """The concrete format for ``path``: ``fmt`` unless 'auto', then by extension (``data.csv.gz`` is CSV);
    standard input is ``auto`` here (``read_batch`` sniffs its content)."""
    check_format(fmt, FORMATS, "input")
    if fmt != "auto" or path == "-":
        return fmt
    extension = os.path.splitext(without_compression(path))[1].lower()
    if extension not in EXTENSIONS:
        raise InputError(f"cannot tell the format from the extension {extension or '(none)'!r}", where=path,
                         hint="use --input-format (" + ", ".join(FORMATS[1:]) + ")")
    return EXTENSIONS[extension]


def read_batch(path: str | os.PathLike[str], fmt: str = "auto", *, single_name: str = "x",
               allow_nonfinite: bool = False, stdin: BinaryIO | None = None,
               csv: CsvOptions = CsvOptions()) -> Batch:
    """Open a batched input. ``path == '-'`` reads ``stdin`` (default ``sys.stdin.buffer``), decompressed when
    its magic bytes say so and, with ``fmt='auto'``, in the format its first bytes tell (NPY/NPZ magic, JSON's
    ``[`` or ``{``, else CSV). Files are decompressed by extension (``.gz``, ``.bz2``, ``.xz``).

    Single-array formats (CSV/TSV, NPY, JSON array) give one array named ``single_name`` of shape ``(B, *S)``;
    CSV/TSV always have ``S == (ncols,)`` (the kept columns, see ``csv``). NPZ and JSON objects give several
    arrays sharing B, and 0-d scalars. Raises ``UsageError`` for an unknown ``fmt`` and ``InputError`` for
    anything wrong with the input that can be seen from its head (format, header, dtype, shapes, empty input);
    bad values surface in ``chunks``."""
    path = os.fspath(path)
    fmt = resolve_format(path, fmt)
    stream: BinaryIO | None = None
    label = label_for(path)
    if path == "-":
        stream, head = sniff_stream(stdin if stdin is not None else _stdin_buffer(), label)
        fmt = sniff_format(head) if fmt == "auto" else fmt
    elif compression_of(path) and fmt in ("npy", "npz", "json"):
        with open_binary(path) as handle:  # compressed bytes cannot be memory-mapped: read them whole
            stream = io.BytesIO(read_all(None, handle, label))
    file_path = None if stream is not None else path
    if fmt in ("csv", "tsv"):
        if fmt == "tsv" and csv.delimiter is True:
            csv = dataclasses.replace(csv, delimiter="\t")
        return read_csv(file_path, stream, label, single_name, allow_nonfinite, csv)
    if csv.delimiter is not True or csv.columns.index_col != "auto":
        raise UsageError(f"--delimiter and --index-col apply to CSV input, not {fmt}",
                         hint="drop them, or pass --input-format csv")
    if fmt == "npy":
        batch = read_npy(file_path, stream, label, single_name, allow_nonfinite)
    elif fmt == "npz":
        batch = dataclasses.replace(read_npz(file_path, stream, label, allow_nonfinite), named=True)
    else:
        batch = read_json(file_path, stream, label, single_name, allow_nonfinite)
    return _named_columns(batch, csv.columns.columns)


def _named_columns(batch: Batch, names: tuple[str, ...] | None) -> Batch:
    """``--columns`` on a single-array input of rows ``(B, n)``: names for the n columns, as a CSV header gives."""
    if names is None:
        return batch
    specs = list(batch.arrays.values())
    if len(specs) != 1 or len(specs[0].event_shape) != 1 or specs[0].event_shape[0] != len(names):
        shapes = ", ".join(f"{k} {tuple(v.event_shape)}" for k, v in batch.arrays.items())
        raise UsageError(f"--columns gives {len(names)} names, but the input's examples are {shapes}",
                         hint="--columns names the columns of rows (one array of shape (B, n), n names)")
    return dataclasses.replace(batch, columns=list(names))


def _stdin_buffer() -> BinaryIO:
    if sys.stdin is None or not hasattr(sys.stdin, "buffer"):
        raise InputError("standard input is not available", where=STDIN_LABEL,
                         hint="give an input file instead of '-'")
    return sys.stdin.buffer
