"""Compressed inputs (``.gz``, ``.bz2``, ``.xz``) and content sniffing for streams without a name.

A file's compression comes from its last extension (``data.csv.gz`` is gzip-compressed CSV); standard input's from
its magic bytes. Either way the reader sees plain decompressed bytes through a ``BinaryIO``, and a damaged stream
becomes an exit-3 ``InputError`` at the moment it is read, not a traceback.

``sniff_format`` tells the format of standard input from its first bytes: NPY/NPZ magic, JSON's first non-blank
character (``[`` or ``{``), otherwise CSV.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zlib
from typing import Any, BinaryIO, Callable, TypeVar

from jaccli.errors import InputError
from jaccli.textkit import text_start

# extension -> opener; magic bytes -> extension (the same three, recognised on standard input)
_OPENERS: dict[str, Callable[[BinaryIO], Any]] = {  # each gives a readable, seekable binary file object
    ".gz": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    ".bz2": lambda raw: bz2.BZ2File(raw, mode="rb"),
    ".xz": lambda raw: lzma.LZMAFile(raw, mode="rb"),
}
_T = TypeVar("_T")
COMPRESSED_EXTENSIONS = tuple(_OPENERS)
_MAGIC = ((b"\x1f\x8b", ".gz"), (b"BZh", ".bz2"), (b"\xfd7zXZ\x00", ".xz"))
_DAMAGED = (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError)
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
_BLANK = b" \t\r\n"
STDIN_HINT = "give the data as a file path instead of '-'"


def compression_of(path: str) -> str | None:
    """``'.gz'`` for ``data.csv.gz`` (any case), None for an uncompressed name."""
    extension = os.path.splitext(path)[1].lower()
    return extension if extension in _OPENERS else None


def without_compression(path: str) -> str:
    """``data.csv`` for ``data.csv.gz``: the name whose extension tells the format."""
    return path[:-len(compression_of(path) or "")] if compression_of(path) else path


class _Guarded(io.RawIOBase):
    """A readable stream whose decompression errors are ``InputError`` (exit 3) naming the input."""

    def __init__(self, inner: Any, label: str, kind: str) -> None:
        super().__init__()
        self.inner, self.label, self.kind = inner, label, kind

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # forward seeks re-decompress; the CSV reader only seeks from the start

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._guard(lambda: self.inner.seek(offset, whence))

    def tell(self) -> int:
        return self.inner.tell()

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        data = self._guard(lambda: self.inner.read(len(buffer)))
        buffer[:len(data)] = data
        return len(data)

    def _guard(self, action: Callable[[], _T]) -> _T:
        try:
            return action()
        except _DAMAGED as exc:
            raise InputError(f"cannot decompress the {self.kind[1:]} input: {exc}", where=self.label,
                             hint="the file is truncated or not really compressed; check it with "
                                  f"'{ {'.gz': 'gzip', '.bz2': 'bzip2', '.xz': 'xz'}[self.kind]} -t'") from None

    def close(self) -> None:
        self.inner.close()
        super().close()


def decompressing(raw: BinaryIO, kind: str, label: str) -> BinaryIO:
    """Plain bytes of ``raw``, compressed as ``kind`` (``'.gz'``, ``'.bz2'``, ``'.xz'``), buffered for lines."""
    return io.BufferedReader(_Guarded(_OPENERS[kind](raw), label, kind), buffer_size=1 << 16)  # type: ignore


class _Replay(io.RawIOBase):
    """``prefix`` (already read to sniff the stream) followed by the rest of ``rest``. Once ``rest`` has ended it
    is never read again: a terminal gives its end (Ctrl-D) once, and a second read would wait for more typing."""

    def __init__(self, prefix: bytes, rest: BinaryIO, ended: bool) -> None:
        super().__init__()
        self.prefix, self.rest, self.ended = prefix, rest, ended

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        if self.prefix:
            n = min(len(buffer), len(self.prefix))
            buffer[:n], self.prefix = self.prefix[:n], self.prefix[n:]
            return n
        if self.ended:
            return 0
        data = _read_some(self.rest, len(buffer))
        self.ended = not data
        buffer[:len(data)] = data
        return len(data)


def _read_some(stream: BinaryIO, n: int) -> bytes:
    """What is available now (at most ``n`` bytes, at least one unless at the end): a pipe is not waited on to
    fill a whole buffer, so rows flow through as they arrive."""
    read1 = getattr(stream, "read1", None)
    return read1(n) if read1 is not None else stream.read(n)


def _head(stream: BinaryIO, label: str) -> tuple[bytes, bool]:
    """The first bytes of ``stream``: at least 8 and a non-blank one (or all of it), for magic and JSON checks;
    and whether the stream has ended."""
    head = b""
    while len(head) < 8 or not head.strip(_BLANK):
        try:
            more = _read_some(stream, 1 << 16)
        except OSError as exc:
            raise InputError(f"cannot read standard input: {exc}", where=label, hint=STDIN_HINT) from None
        if not more:
            return head, True
        head += more
        if len(head) > (1 << 24):  # 16 MB of blanks: not JSON, not binary; let the CSV reader say so
            break
    return head, False


def sniff_stream(stream: BinaryIO, label: str) -> tuple[BinaryIO, bytes]:
    """Standard input, decompressed when its magic bytes say so: ``(plain stream, its first bytes)``; the
    stream still yields every byte (the sniffed ones are replayed)."""
    head, ended = _head(stream, label)
    replayed: BinaryIO = io.BufferedReader(_Replay(head, stream, ended), buffer_size=1 << 16)  # type: ignore
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            plain = decompressing(replayed, kind, label)
            head, ended = _head(plain, label)
            return io.BufferedReader(_Replay(head, plain, ended), buffer_size=1 << 16), head  # type: ignore
    return replayed, head


def sniff_format(head: bytes) -> str:
    """``npy``, ``npz``, ``json`` or ``csv`` from the first bytes of the (decompressed) input."""
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(ZIP_MAGIC):
        return "npz"
    first = text_start(head)[:1]
    return "json" if first in (b"[", b"{") else "csv"
