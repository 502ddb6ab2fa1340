"""``-f npz``: NumPy's ``.npz`` (a zip of ``.npy`` members), one member per order: ``order0``, ``order1``, ...

``np.load(path)["order1"]`` reads a member back. Members are written chunk by chunk through ``zipfile``'s
streaming writer, and memory stays bounded by one chunk whatever B is:

- the first member streams straight into the zip, its ``.npy`` header first, when the batch size B is known up
  front (files; standard input is read to its end before B is known);
- every other member, and the first one when B is unknown, is spooled (in memory up to ``SPOOL_MAX_SIZE``, then
  in an anonymous temporary file) and copied into the zip at ``finish``, header first: a zip holds its members
  one after the other, and a ``.npy`` header holds the full shape.

Members are stored uncompressed (as ``np.savez`` does) with a fixed timestamp, so the bytes are identical on
every run.
"""
from __future__ import annotations

import shutil
import tempfile
import zipfile
from typing import IO

import numpy as np

from jaccli.io.stream import SPOOL_MAX_SIZE

_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: no clock in the bytes
_COPY_BLOCK = 1024 * 1024


def member_name(order: int) -> str:
    return f"order{order}"


def _npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """``np.save``'s header (format 1.0) for an array of ``shape``."""
    import io

    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


class NpzWriter:
    """Several named arrays ``(B, *shape)`` of one dtype written chunk by chunk into one ``.npz``."""

    def __init__(self, file: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True)
        self.members: dict[str, tuple[int, ...]] = {}
        self.dtype = np.dtype(np.float64)
        self.batch_size: int | None = None
        self.count = 0
        self.streamed: str | None = None  # the member written straight into the zip
        self.stream: IO[bytes] | None = None
        self.spools: dict[str, IO[bytes]] = {}

    def begin(self, members: dict[str, tuple[int, ...]], dtype: np.dtype, batch_size: int | None) -> None:
        """``members``: name -> per-example shape, in the order they appear in the file."""
        self.members, self.dtype, self.batch_size = dict(members), np.dtype(dtype), batch_size
        names = list(self.members)
        if batch_size is not None and names:
            self.streamed = names[0]
            self.stream = self._open(self.streamed, batch_size)
        for name in names:
            if name != self.streamed:
                self.spools[name] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="w+b")

    def write(self, chunks: dict[str, np.ndarray]) -> None:
        """One chunk of every member (the same examples): ``chunks[name]`` of shape ``(b, *shape)``."""
        b = None
        for name, shape in self.members.items():
            chunk = np.ascontiguousarray(chunks[name], dtype=self.dtype)
            if chunk.shape[1:] != shape or (b is not None and chunk.shape[0] != b):
                raise ValueError(f"chunk of shape {chunk.shape} does not fit member {name} {shape}")
            b = chunk.shape[0]
            target = self.stream if name == self.streamed else self.spools[name]
            assert target is not None
            target.write(chunk.data.cast("B") if chunk.size else b"")
        self.count += b or 0

    def finish(self) -> None:
        if self.batch_size is not None and self.count != self.batch_size:
            raise ValueError(f"{self.count} examples were written, but the batch size is {self.batch_size}")
        if self.stream is not None:
            self.stream.close()
        for name, spool in self.spools.items():
            with self._open(name, self.count) as member:
                spool.seek(0)
                shutil.copyfileobj(spool, member, _COPY_BLOCK)
            spool.close()
        self.zip.close()

    def _open(self, name: str, batch_size: int) -> IO[bytes]:
        """A member opened for writing, its ``.npy`` header already in."""
        shape = (batch_size, *self.members[name])
        header = _npy_header(self.dtype, shape)
        info = zipfile.ZipInfo(name + ".npy", date_time=_EPOCH)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        # The size decides zip64 up front; telling zipfile lets a member of several GB stream.
        info.file_size = len(header) + int(np.prod(shape, dtype=np.int64)) * self.dtype.itemsize
        member = self.zip.open(info, "w")
        member.write(header)
        return member


class NpzTensorWriter:
    """``-f npz`` for one order: the ``TensorWriter`` protocol of ``outputs`` around one member ``order{k}``."""

    def __init__(self, file: IO[bytes]) -> None:
        self.npz = NpzWriter(file)
        self.name = ""

    def begin(self, per_example_shape: tuple[int, ...], dtype: np.dtype, batch_size: int | None, order: int,
              layout: list[str]) -> None:
        self.name = member_name(order)
        self.npz.begin({self.name: tuple(per_example_shape)}, dtype, batch_size)

    def write_chunk(self, chunk: np.ndarray) -> None:
        self.npz.write({self.name: chunk})

    def finish(self) -> None:
        self.npz.finish()
