"""NPY and NPZ input, read without pickles and without trusting the header.

Order of checks, all before any data is allocated: magic and version, header length (at most numpy's 10 000
bytes), header text (numpy's own parser), dtype (no object/pickle, no structured, only int/uint/float), and
``header + prod(shape) * itemsize == bytes in the file`` exactly. Only then is the data memory-mapped (``.npy``
files: a big file is never loaded whole; ``Batch.chunks`` copies ``n`` examples at a time) or read (``.npz``
members, standard input: compressed or streamed bytes cannot be mapped).
"""
from __future__ import annotations

import io
import lzma
import math
import os
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, BinaryIO, Dict, Literal, Optional, Tuple

import numpy as np

from jaccli import limits
from jaccli.errors import InputError
from jaccli.io.inputs.batch import Batch, batch_from_arrays, check_dtype, check_name, open_binary, read_all

MAX_HEADER_BYTES = 10_000  # numpy's own limit (np.lib.format's max_header_size)
MAX_ARRAY_BYTES = 2**63 - 1  # NumPy's limit on any array's size in bytes, also for shapes holding a 0
READ_PIECE = 1 << 20  # compressed members are read this much at a time into their preallocated array
# What a damaged zip archive raises (corrupt deflate/bzip2/LZMA data, unsupported versions or methods, offsets
# that point outside the file: "negative seek value" from an in-memory copy of standard input).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError,
               RuntimeError, OSError, ValueError, OverflowError, struct.error)
_REWRITE_HINT = "the file is truncated or its header was edited; save it again with numpy.save"


@dataclass(frozen=True)
class NpyHeader:
    """A parsed ``.npy`` header; ``offset`` is where the data starts, ``nbytes`` what the header promises."""

    shape: Tuple[int, ...]
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


def array_from_bytes(header: NpyHeader, data: bytes, offset: int) -> np.ndarray:
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
        raise InputError(f"empty input: the array has shape {header.shape} (no examples)", where=label)
    return batch_from_arrays(label, {single_name: array}, allow_nonfinite=allow_nonfinite)


def read_npy(path: Optional[str], stream: Optional[BinaryIO], label: str, single_name: str,
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
            raise InputError(f"cannot map the input file: {exc}", where=label) from None
    return _single(array, header, label, single_name, allow_nonfinite)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, budget: int) -> np.ndarray:
    """One ``.npy`` member: header checked against the member's declared uncompressed size and the memory
    ``budget`` left, then decompressed piece by piece into its array: never more than the header promises (a
    2 MB file of zeros cannot expand past the size its header states, nor hold two copies at once)."""
    try:
        with archive.open(info) as handle:
            header = read_header(handle, where)
            check_size(header, info.file_size, where)
            if header.nbytes > budget:
                raise InputError(f"the array holds {limits.format_bytes(header.nbytes)} uncompressed, more than "
                                 f"the {limits.format_bytes(budget)} of memory left for input", where=where,
                                 hint="a compressed .npz member is read whole: save big arrays as .npy, which "
                                      "is memory-mapped and streamed")
            data = bytearray(header.nbytes)
            view, done = memoryview(data), 0
            while done < header.nbytes:
                got = handle.readinto(view[done:done + READ_PIECE])
                if not got:
                    break
                done += got
            trailing = handle.read(1)  # to the end: zipfile checks the CRC there
    except _ZIP_ERRORS as exc:
        raise InputError(f"cannot read the member: {exc}", where=where,
                         hint="the .npz file is damaged; save it again with numpy.savez") from None
    if done != header.nbytes or trailing:
        raise InputError(f"header says shape {header.shape} = {header.nbytes} bytes but the member holds "
                         f"{'more' if trailing else done}", where=where, hint=_REWRITE_HINT)
    return array_from_bytes(header, data, 0)


def read_npz(path: Optional[str], stream: Optional[BinaryIO], label: str, allow_nonfinite: bool) -> Batch:
    """Named arrays: members ``NAME.npy``; 0-d members become scalars, the others share the batch size B."""
    source = io.BytesIO(read_all(None, stream, label)) if stream is not None else path
    assert source is not None  # as in read_npy: without a stream there is a path
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise InputError("not an .npz file (not a zip archive)", where=label,
                         hint="write it with numpy.savez, or pass --input-format") from None
    except FileNotFoundError as exc:
        raise InputError(f"cannot read the input file: {exc.strerror or exc}", where=label) from None
    except _ZIP_ERRORS as exc:
        raise InputError(f"the .npz archive is damaged: {exc}", where=label,
                         hint="save it again with numpy.savez") from None
    arrays: Dict[str, np.ndarray] = {}
    budget = limits.available_memory() // 2  # half: chunks, the plan and the output need the rest
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise InputError(f"member {info.filename!r} is not an .npy array", where=label,
                                 hint="an .npz input holds only NAME.npy members (numpy.savez writes those)")
            name = info.filename[:-len(".npy")]
            check_name(name, "array name", where=label)
            if name in arrays:
                raise InputError(f"array {name!r} appears twice", where=label, hint="rename one of them")
            arrays[name] = _read_member(archive, info, f"{label}: array '{name}'", budget)
            budget -= arrays[name].nbytes
    if not arrays:
        raise InputError("empty input: the .npz file holds no arrays", where=label)
    return batch_from_arrays(label, arrays, allow_nonfinite=allow_nonfinite)
