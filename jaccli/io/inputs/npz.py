"""NPZ input: named ``.npy`` members of a zip archive, checked from their headers, then streamed chunk by chunk.

Every member's header is read and checked (``npy.read_header``: dtype, shape, size against the member's declared
uncompressed size) before any data. Batched members are then decompressed ``n`` examples at a time, all members
side by side, so memory stays one chunk however large the arrays are: a 2 MB file holding 2 GiB of zeros never
holds more than a chunk, and never decompresses more than its headers promise. Fortran-order members (rare: numpy
saves C order unless told) cannot be cut into examples as they arrive; they are read whole, within half the
available memory, else exit 3 naming the array. Damaged archives (corrupt deflate/LZMA data, unsupported
versions, offsets outside the file) are exit 3 too, up front or at the chunk where the damage shows.
"""
from __future__ import annotations

import io
import lzma
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, BinaryIO, Callable, Iterator

import numpy as np

from jaccli import limits
from jaccli.errors import InputError
from jaccli.io.inputs.batch import (PATH_HINT, ArraySpec, Batch, Chunk, check_finite, check_finite_scalar, check_name,
                                    common_batch_size, read_all, value_dtype)
from jaccli.io.inputs.npy import NpyHeader, array_from_bytes, check_size, read_header

READ_PIECE = 1 << 20  # members are decompressed this much at a time
_DAMAGED_HINT = "the .npz file is damaged; save it again with numpy.savez"
# What a damaged zip archive raises (corrupt deflate/bzip2/LZMA data, unsupported versions or methods, offsets
# that point outside the file: "negative seek value" from an in-memory copy of standard input).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError,
               RuntimeError, OSError, ValueError, OverflowError, struct.error)


@dataclass(frozen=True)
class _Member:
    name: str
    info: zipfile.ZipInfo
    header: NpyHeader
    where: str


def read_npz(path: str | None, stream: BinaryIO | None, label: str, allow_nonfinite: bool) -> Batch:
    """Named arrays: members ``NAME.npy``; 0-d members become scalars, the others share the batch size B."""
    data = read_all(None, stream, label) if stream is not None else None
    opener: Callable[[], zipfile.ZipFile] = lambda: _open(io.BytesIO(data) if data is not None else path, label)
    members: dict[str, _Member] = {}
    scalars: dict[str, float] = {}
    whole: dict[str, np.ndarray] = {}  # Fortran-order members, read whole
    budget = limits.memory_budget()
    with opener() as archive:
        for info in archive.infolist():
            member = _member(archive, info, label, members)
            members[member.name] = member
            if not member.header.shape:
                scalar = _read_whole(archive, member, budget)
                scalars[member.name] = float(scalar.astype(value_dtype(scalar.dtype)))
                if not allow_nonfinite:
                    check_finite_scalar(scalars[member.name], label, member.name)
            elif member.header.fortran_order:
                whole[member.name] = _read_whole(archive, member, budget)
                budget -= member.header.nbytes
    if not members:
        raise InputError("empty input: the .npz file holds no arrays", where=label,
                         hint="save the arrays by name: numpy.savez(path, x=x)")
    batched = {name: m for name, m in members.items() if m.header.shape}
    size = common_batch_size(label, {name: m.header.shape for name, m in batched.items()})
    specs = {name: ArraySpec(m.header.shape[1:], m.header.dtype) for name, m in batched.items()}
    return Batch(specs, scalars, None, size, label,
                 lambda n: _chunks(opener, batched, whole, size, n, label, allow_nonfinite))


def _open(source: object, label: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)  # type: ignore[arg-type, call-overload, unused-ignore]
    except zipfile.BadZipFile:
        raise InputError("not an .npz file (not a zip archive)", where=label,
                         hint="write it with numpy.savez, or pass --input-format") from None
    except FileNotFoundError as exc:
        raise InputError(f"cannot read the input file: {exc.strerror or exc}", where=label,
                         hint=PATH_HINT) from None
    except _ZIP_ERRORS as exc:
        raise InputError(f"the .npz archive is damaged: {exc}", where=label, hint=_DAMAGED_HINT) from None


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, seen: dict[str, _Member]) -> _Member:
    """One member's name and checked header (nothing of its data is read)."""
    if not info.filename.endswith(".npy"):
        raise InputError(f"member {info.filename!r} is not an .npy array", where=label,
                         hint="an .npz input holds only NAME.npy members (numpy.savez writes those)")
    name = info.filename[:-len(".npy")]
    check_name(name, "array name", where=label)
    if name in seen:
        raise InputError(f"array {name!r} appears twice", where=label, hint="rename one of them")
    where = f"{label}: array '{name}'"
    try:
        with archive.open(info) as handle:
            header = read_header(handle, where)
    except _ZIP_ERRORS as exc:
        raise InputError(f"cannot read the member: {exc}", where=where, hint=_DAMAGED_HINT) from None
    check_size(header, info.file_size, where)
    return _Member(name, info, header, where)


def _read_exactly(handle: IO[bytes], nbytes: int, where: str) -> bytearray:
    """``nbytes`` decompressed into one preallocated buffer, piece by piece (never a second copy)."""
    data = bytearray(nbytes)
    view, done = memoryview(data), 0
    try:
        while done < nbytes:
            got = handle.readinto(view[done:done + READ_PIECE])  # type: ignore[attr-defined]
            if not got:
                break
            done += got
    except _ZIP_ERRORS as exc:
        raise InputError(f"cannot read the member: {exc}", where=where, hint=_DAMAGED_HINT) from None
    if done != nbytes:
        raise InputError(f"the member ends after {done} of the {nbytes} bytes its header promises", where=where,
                         hint=_DAMAGED_HINT)
    return data


def _finish(handle: IO[bytes], where: str) -> None:
    """Read to the member's end, where zipfile checks the CRC; nothing may follow the promised data."""
    try:
        trailing = handle.read(1)
    except _ZIP_ERRORS as exc:
        raise InputError(f"cannot read the member: {exc}", where=where, hint=_DAMAGED_HINT) from None
    if trailing:
        raise InputError("the member holds more data than its header promises", where=where, hint=_DAMAGED_HINT)


def _read_whole(archive: zipfile.ZipFile, member: _Member, budget: int) -> np.ndarray:
    header = member.header
    if header.nbytes > budget:
        raise InputError(f"the array holds {limits.format_bytes(header.nbytes)} uncompressed in Fortran order, "
                         f"more than the {limits.format_bytes(budget)} of memory left for input", where=member.where,
                         hint="save it in C order (numpy.savez(..., x=np.ascontiguousarray(x))) to stream it")
    try:
        with archive.open(member.info) as handle:
            read_header(handle, member.where)
            data = _read_exactly(handle, header.nbytes, member.where)
            _finish(handle, member.where)
    except _ZIP_ERRORS as exc:
        raise InputError(f"cannot read the member: {exc}", where=member.where, hint=_DAMAGED_HINT) from None
    return array_from_bytes(header, data, 0)


def _chunks(opener: Callable[[], zipfile.ZipFile], members: dict[str, _Member], whole: dict[str, np.ndarray],
            size: int, n: int, label: str, allow_nonfinite: bool) -> Iterator[Chunk]:
    """``n`` examples at a time from every batched member side by side (each from its own member stream)."""
    with opener() as archive:
        handles: dict[str, IO[bytes]] = {}
        try:
            for name, member in members.items():
                if name not in whole:
                    handles[name] = archive.open(member.info)
                    read_header(handles[name], member.where)  # positions the stream at the data
            for start in range(0, size, n):
                count = min(n, size - start)
                chunk: Chunk = {}
                for name, member in members.items():
                    event = member.header.shape[1:]
                    if name in whole:
                        part = np.array(whole[name][start:start + count], dtype=value_dtype(member.header.dtype),
                                        order="C")
                    else:  # a fresh buffer each chunk: the chunk owns it, so float64 data is not copied again
                        nbytes = count * math.prod(event) * member.header.dtype.itemsize
                        buffer = _read_exactly(handles[name], nbytes, member.where)
                        raw = np.frombuffer(buffer, member.header.dtype).reshape((count, *event))
                        part = raw.astype(value_dtype(member.header.dtype), copy=False)
                    if not allow_nonfinite:
                        check_finite(part, start, label, name)
                    chunk[name] = part
                yield chunk
            for name, handle in handles.items():
                _finish(handle, members[name].where)
        except _ZIP_ERRORS as exc:
            raise InputError(f"cannot read the archive: {exc}", where=label, hint=_DAMAGED_HINT) from None
        finally:
            for handle in handles.values():
                handle.close()
