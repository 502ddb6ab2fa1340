"""Outputs of ``--engine dask`` that never pass through the client: a Zarr store, or a directory of ``.npy`` parts.

Both are written under a temporary name next to the target (``.NAME.tmp-<random>``) and renamed onto it only
after every block is written and every check passed; a failed or interrupted run leaves at most that hidden
temporary, never something under the target's name that looks complete. An existing target is replaced only
at that last step (through a symlink, its target is replaced), and only when it is a file, an empty directory
or an earlier result (``replaceable``). Blocks are written by the workers, each to its own Zarr chunk or part
file, so a task that Dask re-runs after a worker died rewrites the same bytes in the same place.

- Zarr: one array ``(B, *T, *S^k)`` chunked along the batch axis; the JSON attribute ``jaccli`` holds the layout
  metadata of ``-f json`` (shape, dtype, order, layout) plus the expression.
- ``.npy`` parts: ``part-<first example>.npy`` (zero-padded, so name order is batch order), each
  ``(b, *T, *S^k)``, and ``layout.json`` with the same metadata.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from typing import Any

import numpy as np

from jaccli.errors import UsageError


def output_kind(path: str | None) -> str | None:
    """'zarr' for ``*.zarr``, 'npy-dir' for a directory (trailing '/' or existing), None for the local formats."""
    if path is None or path == "-":
        return None
    if path.rstrip("/").lower().endswith(".zarr"):
        return "zarr"
    if path.endswith("/") or os.path.isdir(path):
        return "npy-dir"
    return None


class Store:
    """A Zarr store or ``.npy`` part directory under a temporary name until ``commit``."""

    def __init__(self, path: str, kind: str, shape: tuple[int, ...], dtype: np.dtype, block_rows: int,
                 attrs: dict[str, Any]) -> None:
        # A symlink's target is replaced and the link stays a link, as for -o files.
        self.path, self.kind = os.path.realpath(path.rstrip("/")), kind
        parent = os.path.dirname(self.path)
        if not os.path.isdir(parent):
            raise UsageError(f"cannot write '{path}': the directory {parent} does not exist",
                             hint="create it first")
        if not replaceable(self.path, kind):
            raise UsageError(f"'{path}' is a directory that does not hold a jaccli result: it is not replaced",
                             hint="give a new or empty directory, or remove it first")
        self.tmp = os.path.join(parent, f".{os.path.basename(self.path)}.tmp-{uuid.uuid4().hex[:12]}")
        self.width = len(str(shape[0]))
        if kind == "zarr":
            import zarr

            array = zarr.create_array(store=self.tmp, shape=shape, chunks=(block_rows,) + shape[1:], dtype=dtype,
                                      fill_value=0, zarr_format=3)
            array.attrs["jaccli"] = attrs
        else:
            os.makedirs(self.tmp)
            with open(os.path.join(self.tmp, "layout.json"), "w") as handle:
                json.dump(attrs, handle, indent=1)
                handle.write("\n")

    @property
    def target(self) -> str:
        """Where workers write (for parts: the directory and the name width, ``DIR|WIDTH``)."""
        return self.tmp if self.kind == "zarr" else f"{self.tmp}|{self.width}"

    def commit(self) -> None:
        old = None
        if os.path.lexists(self.path):
            old = f"{self.tmp}.old"
            os.rename(self.path, old)
        os.rename(self.tmp, self.path)
        if old is not None:
            shutil.rmtree(old) if os.path.isdir(old) and not os.path.islink(old) else os.remove(old)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def replaceable(path: str, kind: str) -> bool:
    """Whether ``-o`` may replace what is at ``path``: nothing, a file, an empty directory, or an earlier result of
    the same kind (a directory tree is never deleted on a guess: ``-o .`` or ``-o input.zarr`` are refused)."""
    if not os.path.isdir(path):
        return True
    names = os.listdir(path)
    if not names:
        return True
    if kind == "npy-dir":
        return "layout.json" in names and all(n == "layout.json" or (n.startswith("part-") and n.endswith(".npy"))
                                              for n in names)
    try:
        with open(os.path.join(path, "zarr.json")) as handle:
            return "jaccli" in json.load(handle).get("attributes", {})
    except (OSError, ValueError, AttributeError):
        return False


def write_part(target: str, start: int, block: np.ndarray) -> None:
    """``part-<start>.npy`` in the part directory, written to a temporary file and renamed (idempotent)."""
    directory, width = target.rsplit("|", 1)
    path = os.path.join(directory, f"part-{start:0{int(width)}d}.npy")
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "wb") as handle:
        np.save(handle, block, allow_pickle=False)
    os.replace(tmp, path)
