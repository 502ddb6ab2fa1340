"""The writers' shared protocol: ``begin`` / ``write_chunk`` / ``finish``, checked once for every format.

``_Writer`` checks the protocol and the chunk shapes; ``_HeaderFirstWriter`` is for a format whose header holds
the batch size (NPY): it streams when B is known up front and spools the data until ``finish`` otherwise.
"""
from __future__ import annotations

import abc
import shutil
import tempfile
from typing import IO

import numpy as np

from jaccli.io.stream import SPOOL_MAX_SIZE

_SUPPORTED_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


class _Writer:
    """Checks the begin/write_chunk/finish protocol; subclasses implement ``_start``, ``_write`` and ``_end``."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.count = 0
        self.shape: tuple[int, ...] = ()
        self.dtype = np.dtype(np.float64)
        self.batch_size: int | None = None
        self.order = 1
        self.layout: list[str] = []

    def begin(
        self, per_example_shape: tuple[int, ...], dtype: np.dtype, batch_size: int | None, order: int,
        layout: list[str],
    ) -> None:
        self.shape = tuple(int(n) for n in per_example_shape)
        self.dtype = np.dtype(dtype)
        if self.dtype not in _SUPPORTED_DTYPES:
            raise ValueError(f"results are float16/32/64, not {self.dtype}")
        self.batch_size, self.order, self.layout = batch_size, order, list(layout)
        self._start()

    def write_chunk(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk)
        if chunk.ndim != 1 + len(self.shape) or chunk.shape[1:] != self.shape:
            raise ValueError(f"chunk of shape {chunk.shape} does not fit per-example shape {self.shape}")
        if chunk.shape[0] == 0:
            return
        self._write(np.ascontiguousarray(chunk, dtype=self.dtype))
        self.count += chunk.shape[0]

    def finish(self) -> None:
        if self.batch_size is not None and self.count != self.batch_size:
            raise ValueError(f"{self.count} examples were written, but the batch size is {self.batch_size}")
        self._end()

    def full_shape(self) -> tuple[int, ...]:
        return (self.count if self.batch_size is None else self.batch_size, *self.shape)

    def _start(self) -> None: ...

    def _write(self, chunk: np.ndarray) -> None: ...

    def _end(self) -> None: ...


class _HeaderFirstWriter(_Writer, abc.ABC):
    """A format whose header holds the batch size B: streams when B is known, else spools the data until ``finish``."""

    def _start(self) -> None:
        if self.batch_size is not None:
            self.data: IO[bytes] = self.file
            self.file.write(self._header())
        else:
            self.data = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="w+b")

    def _end(self) -> None:
        if self.data is not self.file:
            self.file.write(self._header())
            self.data.seek(0)
            shutil.copyfileobj(self.data, self.file, 1024 * 1024)
            self.data.close()
        self.file.write(self._footer())

    @abc.abstractmethod
    def _header(self) -> bytes:
        """The bytes before the data (they hold the full shape, so B must be known)."""

    def _footer(self) -> bytes:
        return b""
