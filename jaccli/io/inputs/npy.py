"""NPY input (and the header checks ``.npz`` members share), read without pickles and without trusting the header.

Order of checks, all before any data is allocated: magic and version, header length (at most numpy's 10 000
bytes), header text (numpy's own parser), dtype (no object/pickle, no structured, only int/uint/float), and
``header + prod(shape) * itemsize == bytes in the file`` exactly. Only then is the data memory-mapped (``.npy``
files: a big file is never loaded whole; ``Batch.chunks`` copies ``n`` examples at a time) or read (``.npz``
members are streamed by ``npz.py``; standard input is read whole).
"""
from __future__ import annotations

import io
import math
import os
import tokenize
import warnings
from dataclasses import dataclass
from typing import IO, BinaryIO, Literal

import numpy as np

from jaccli.errors import InputError
from jaccli.io.inputs.batch import EMPTY_HINT, Batch, batch_from_arrays, check_dtype, open_binary, read_all

MAX_HEADER_BYTES = 10_000  # numpy's own limit (np.lib.format's max_header_size)
MAX_ARRAY_BYTES = 2**63 - 1  # NumPy's limit on any array's size in bytes, also for shapes holding a 0
_REWRITE_HINT = "the file is truncated or its header was edited; save it again with numpy.save"


@dataclass(frozen=True)
class NpyHeader:
    """A parsed ``.npy`` header; ``offset`` is where the data starts, ``nbytes`` what the header promises."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize  # Python ints: a lying shape cannot overflow


def read_header(handle: IO[bytes], where: str) -> NpyHeader:
    """Parse and check the header at the current position of ``handle``; reads at most ~10 kB."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
    except ValueError:
        raise InputError("not a .npy file (bad magic string)", where=where,
                         hint="write it with numpy.save, or pass --input-format") from None
    if version not in ((1, 0), (2, 0)):
        raise InputError(f".npy format version {version[0]}.{version[1]} is not supported", where=where,
                         hint="save it again with numpy.save (versions 1.0 and 2.0 are read)")
    width = 2 if version == (1, 0) else 4
    length_bytes = handle.read(width)
    length = int.from_bytes(length_bytes, "little")
    # Checked before reading: a version-2 header may claim up to 4 GB.
    if len(length_bytes) < width or length > MAX_HEADER_BYTES:
        raise InputError(f"the .npy header length {length} is invalid (at most {MAX_HEADER_BYTES} bytes)",
                         where=where, hint=_REWRITE_HINT)
    text = handle.read(length)
    if len(text) < length:
        raise InputError("the .npy header is truncated", where=where, hint=_REWRITE_HINT)
    reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    try:
        with warnings.catch_warnings():  # numpy warns (on stderr) about headers it re-parses as Python 2's
            warnings.simplefilter("ignore")
            shape, fortran_order, dtype = reader(io.BytesIO(length_bytes + text))
    except (ValueError, SyntaxError, TypeError, KeyError, tokenize.TokenError, RecursionError, MemoryError) as exc:
        # numpy tokenizes the header text: an unclosed bracket raises tokenize.TokenError, not a ValueError
        raise InputError(f"the .npy header is malformed: {exc}", where=where, hint=_REWRITE_HINT) from None
    if any(dim < 0 for dim in shape):
        raise InputError(f"the .npy header has a negative dimension: shape {shape}", where=where,
                         hint=_REWRITE_HINT)
    if math.prod(dim for dim in shape if dim) * dtype.itemsize > MAX_ARRAY_BYTES:
        # (1, 0, 2**62) holds zero bytes, so the file-size check passes; NumPy would still refuse the shape.
        raise InputError(f"the .npy header's shape {shape} is too large for any array", where=where,
                         hint=_REWRITE_HINT)
    check_dtype(dtype, where)
    return NpyHeader(tuple(shape), bool(fortran_order), dtype, 6 + 2 + width + length)


def check_size(header: NpyHeader, total: int, where: str) -> None:
    """The data must fill the file exactly: a lying header is refused before anything is allocated."""
    holds = total - header.offset
    if holds != header.nbytes:
        raise InputError(f"header says shape {header.shape} = {header.nbytes} bytes but the file holds {holds}",
                         where=where, hint=_REWRITE_HINT)


def array_from_bytes(header: NpyHeader, data: bytes | bytearray, offset: int) -> np.ndarray:
    """A read-only view of already-checked bytes (no copy)."""
    order: Literal["C", "F"] = "F" if header.fortran_order else "C"
    count = math.prod(header.shape)
    flat = np.frombuffer(data, dtype=header.dtype, count=count, offset=offset) if count else \
        np.empty(0, dtype=header.dtype)
    return flat.reshape(header.shape, order=order)


def _single(array: np.ndarray, header: NpyHeader, label: str, single_name: str,
            allow_nonfinite: bool) -> Batch:
    if not header.shape:
        raise InputError("the array is 0-d (a single number) but needs a batch axis", where=label,
                         hint="save an array whose first axis is the batch (shape (B, ...))")
    if header.shape[0] == 0:
        raise InputError(f"empty input: the array has shape {header.shape} (no examples)", where=label, hint=EMPTY_HINT)
    return batch_from_arrays(label, {single_name: array}, allow_nonfinite=allow_nonfinite)


def read_npy(path: str | None, stream: BinaryIO | None, label: str, single_name: str,
             allow_nonfinite: bool) -> Batch:
    """One array ``(B, *S)`` named ``single_name``: memory-mapped from ``path``, or read whole from ``stream``."""
    if stream is not None:
        data = read_all(None, stream, label)
        header = read_header(io.BytesIO(data), label)
        check_size(header, len(data), label)
        return _single(array_from_bytes(header, data, header.offset), header, label, single_name, allow_nonfinite)
    assert path is not None
    with open_binary(path) as handle:
        header = read_header(handle, label)
        total = os.fstat(handle.fileno()).st_size
    check_size(header, total, label)
    if header.nbytes == 0 or not header.shape:
        # mmap cannot map zero bytes, and a 0-d array is refused anyway: tiny, read it from memory.
        with open_binary(path) as handle:
            data = handle.read()
        array = array_from_bytes(header, data, header.offset)
    else:
        try:
            array = np.memmap(path, dtype=header.dtype, mode="r", offset=header.offset, shape=header.shape,
                              order="F" if header.fortran_order else "C")
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot map the input file: {exc}", where=label,
                             hint="pipe the file in instead: jaccli ... - < FILE.npy") from None
    return _single(array, header, label, single_name, allow_nonfinite)
