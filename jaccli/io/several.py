"""Writers for several orders in one run (``-k 0,1,2``): one result per order, in one output.

- text: each order's tensor print under a heading line ``order k (value|Jacobian|Hessian):``, blank lines between;
  a None order prints ``None``.
- json: ``{"orders": [0, 1, 2], "dtype": "float64", "order0": {...}, "order1": {...}, ...}`` where each
  ``"order{k}"`` value is exactly the single-order document ``-k k -f json`` writes (shape, dtype, order, layout,
  data; ``"data": null`` for a None order), so a reader of one order reads each.
- npz: members ``order0``, ``order1``, ... (``jaccli.io.npz``); a None order cannot be stored.
- csv and npy hold one array: a several-orders run is refused before anything is computed.

Every order but the first is spooled (memory up to ``SPOOL_MAX_SIZE``, then an anonymous temporary file) until the
first is complete, since the formats write the orders one after the other.
"""
from __future__ import annotations

import shutil
import tempfile
from typing import IO

import numpy as np

from jaccli.errors import UsageError
from jaccli.io.formats import SEVERAL_FORMATS
from jaccli.io.npz import NpzWriter, member_name
from jaccli.io.outputs import TensorWriter, make_writer, write_none
from jaccli.io.stream import SPOOL_MAX_SIZE

NAMES = {0: "value", 1: "Jacobian", 2: "Hessian"}  # in text headings


class Part:
    """What one order's output needs to know: per-example shape, axis names, and whether it has values."""

    def __init__(self, shape: tuple[int, ...], layout: list[str], present: bool) -> None:
        self.shape, self.layout, self.present = shape, layout, present


def check_several(fmt: str, orders: int) -> None:
    """Refuse, before any work, a format that holds one array."""
    if fmt not in SEVERAL_FORMATS:
        raise UsageError(f"-f {fmt} holds one array, and {orders} orders were asked for",
                         hint="use -f npz or -f json for several orders, or one -k per run")


def check_format(fmt: str, parts: dict[int, Part]) -> None:
    """Refuse a format that cannot hold these orders (one array only, or a None order in npz)."""
    check_several(fmt, len(parts))
    missing = [k for k, p in parts.items() if not p.present]
    if fmt == "npz" and missing:
        raise UsageError(f"order {missing[0]} is a None result (the target does not reference the source), "
                         "which -f npz cannot store", hint="use --unconnected zero to get zeros, or -f text/json")


def heading(order: int) -> str:
    return f"order {order}" + (f" ({NAMES[order]})" if order in NAMES else "") + ":"


class SeveralWriter:
    """``begin`` once, ``write`` a chunk of every order (the same examples) any number of times, ``finish``."""

    def __init__(self, fmt: str, file: IO[bytes], precision: int | None = None) -> None:
        self.fmt, self.file, self.precision = fmt, file, precision
        self.parts: dict[int, Part] = {}
        self.dtype = np.dtype(np.float64)
        self.count = 0
        self.npz: NpzWriter | None = None
        self.spools: dict[int, IO[bytes]] = {}
        self.writers: dict[int, TensorWriter] = {}

    def begin(self, parts: dict[int, Part], dtype: np.dtype, batch_size: int | None) -> None:
        check_format(self.fmt, parts)
        self.parts, self.dtype = parts, np.dtype(dtype)
        if self.fmt == "npz":
            self.npz = NpzWriter(self.file)
            self.npz.begin({member_name(k): p.shape for k, p in parts.items()}, dtype, batch_size)
            return
        for k, part in parts.items():
            if part.present:
                self.spools[k] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="w+b")
                self.writers[k] = make_writer(self.fmt, self.spools[k], precision=self.precision)
                self.writers[k].begin(part.shape, dtype, batch_size, k, part.layout)

    def write(self, chunks: dict[int, np.ndarray], examples: int) -> None:
        """``chunks[k]``: ``examples`` rows of order k, for every order that has values."""
        if self.npz is not None:
            self.npz.write({member_name(k): chunks[k] for k in self.parts})
        for k, writer in self.writers.items():
            writer.write_chunk(chunks[k])
        self.count += examples

    def finish(self) -> None:
        if self.npz is not None:
            self.npz.finish()
            return
        for writer in self.writers.values():
            writer.finish()
        if self.fmt == "json":
            head = '{"orders": [' + ", ".join(str(k) for k in self.parts) + f'], "dtype": "{self.dtype.name}"'
            self.file.write(head.encode("ascii"))
        for i, (k, part) in enumerate(self.parts.items()):
            if self.fmt == "json":
                self.file.write(f', "{member_name(k)}": '.encode("ascii"))
            else:
                self.file.write((("\n" if i else "") + heading(k) + "\n").encode("ascii"))
            self._copy(k, part)
        if self.fmt == "json":
            self.file.write(b"}\n")

    def _copy(self, k: int, part: Part) -> None:
        """Order k's own document (without its final newline in json), or its None."""
        spool = self.spools.get(k)
        if spool is None:
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="w+b")
            write_none(self.fmt, spool, shape=(self.count, *part.shape), dtype=self.dtype, order=k,
                       layout=part.layout)
        size = spool.seek(0, 2)
        spool.seek(0)
        if self.fmt == "json":
            _copy_bytes(spool, self.file, size - 1)  # each document ends in one newline
        else:
            shutil.copyfileobj(spool, self.file, 1024 * 1024)
        spool.close()


def _copy_bytes(src: IO[bytes], dst: IO[bytes], n: int) -> None:
    while n > 0:
        block = src.read(min(n, 1024 * 1024))
        if not block:
            break
        dst.write(block)
        n -= len(block)
