"""Inputs of ``--engine dask``: a Zarr array or group, a Parquet file or dataset, a glob of ``.npy``/``.csv`` files.

Each becomes named lazy arrays ``(B, *S)`` (plus 0-d scalars and CSV-style column names), read by worker tasks
block by block; nothing here loads the data on the client. Only heads are read eagerly (Zarr metadata, Parquet
footers, ``.npy`` headers, CSV headers and row counts), so shapes, dtypes and names are checked before any work.

- Zarr array: the source, named ``--wrt``; Zarr group: its arrays by name (``--wrt`` picks the source, the
  others are per-example constants, 0-d arrays are scalars), like an ``.npz``.
- Parquet: every column, in order, is a CSV column (``x`` is the row, the names are usable); ``--columns A,B``
  picks and orders them, as for CSV; row groups are blocks.
- ``'parts/*.npy'``, ``'parts/*.csv'``: the files in sorted name order are one batch; with CSV headers, every
  file must have the same header.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from jaccli.errors import InputError, UsageError, did_you_mean

GLOB_CHARS = "*?["


@dataclass
class Source:
    arrays: dict[str, Any]  # name -> dask.array (B, *S)
    label: str
    columns: list[str] | None = None
    scalars: dict[str, np.ndarray] = field(default_factory=dict)
    checked: bool = False  # the readers already refused non-finite values (with file-local positions)
    reopen: Callable[[int], dict[str, Any]] | None = None  # the arrays again, read in blocks of N rows


def source_kind(path: str) -> str:
    """'zarr', 'parquet', 'npy' or 'csv', from the path (and a directory's contents)."""
    lowered = path.rstrip("/").lower()
    markers = ("zarr.json", ".zarray", ".zgroup")
    if lowered.endswith(".zarr") or any(os.path.exists(os.path.join(path, m)) for m in markers):
        return "zarr"
    if lowered.endswith((".parquet", ".pq")) or (os.path.isdir(path) and glob.glob(os.path.join(path, "*.parquet"))):
        return "parquet"
    if lowered.endswith(".npy"):
        return "npy"
    if lowered.endswith(".csv"):
        return "csv"
    raise UsageError(f"--engine dask cannot read {path!r}",
                     hint="give a Zarr store (.zarr), a Parquet file or directory, or a glob of .npy or .csv files "
                          "(quoted: 'parts/*.npy')")


def open_source(path: str, wrt: str, allow_nonfinite: bool, columns: str | None = None) -> Source:
    """The named lazy arrays of ``path``; ``columns`` ('A,B') picks and orders Parquet or CSV columns."""
    picked = None if columns is None else [c.strip() for c in columns.split(",")]
    if path == "-":
        raise UsageError("--engine dask cannot read standard input", hint="give a Zarr, Parquet, .npy or .csv path")
    kind = source_kind(path)
    if picked is not None and kind not in ("parquet", "csv"):
        raise UsageError("--columns picks columns of Parquet or CSV input", hint="drop --columns")
    if kind == "zarr":
        return _zarr(path, wrt)
    if kind == "parquet":
        return _parquet(path, picked)
    files = sorted(glob.glob(path)) if any(c in path for c in GLOB_CHARS) else [path]
    if not files:
        raise InputError("no file matches the pattern", where=path, hint="check the pattern (quote it in the shell)")
    if kind == "npy":
        return _npy_files(files, path, wrt, allow_nonfinite)
    return _csv_files(files, path, wrt, allow_nonfinite, picked)


# --- Zarr ---------------------------------------------------------------------------------------------------

def _zarr(path: str, wrt: str) -> Source:
    import dask.array as da
    import zarr

    from jaccli.io.inputs.batch import check_dtype, check_name

    try:
        node = zarr.open(path, mode="r")
    except Exception as exc:  # zarr raises several types for a missing or foreign store
        raise InputError(f"cannot open the Zarr store: {exc}", where=path, hint="check the path") from None
    members = [(wrt, node, None)] if isinstance(node, zarr.Array) else [(n, a, n) for n, a in sorted(node.arrays())]
    arrays: dict[str, Any] = {}
    scalars: dict[str, np.ndarray] = {}
    components: dict[str, str | None] = {}
    for name, array, component in members:
        where = f"{path}: array '{name}'"
        check_name(name, "array name", path)
        check_dtype(np.dtype(array.dtype), where)
        if array.ndim == 0:
            scalars[name] = np.asarray(array[()])
        else:
            arrays[name] = da.from_zarr(path, component=component)
            components[name] = component
    if not arrays:
        raise InputError("the Zarr group has no array with a batch axis", where=path,
                         hint="store the examples as an array whose first axis is the batch axis")

    def reopen(rows: int) -> dict[str, Any]:  # each block task reads its rows from the store itself
        return {name: da.from_zarr(path, component=c, chunks=(rows,) + arrays[name].shape[1:])
                for name, c in components.items()}

    return Source(arrays, path, scalars=scalars, reopen=reopen)


# --- Parquet ------------------------------------------------------------------------------------------------

def pick(names: list[str], picked: list[str] | None, where: str) -> list[int]:
    """Positions of the ``--columns`` names (all columns without it); unknown or repeated names are errors."""
    if picked is None:
        return list(range(len(names)))
    for i, name in enumerate(picked):
        if name not in names:
            guess = did_you_mean(name, names)
            raise UsageError(f"--columns: {where} has no column '{name}'"
                             + (f" (did you mean '{guess}'?)" if guess else ""), hint="columns: " + ", ".join(names))
        if name in picked[:i]:
            raise UsageError(f"--columns: '{name}' is given twice", hint="name each column once")
    return [names.index(name) for name in picked]


def _parquet(path: str, picked: list[str] | None) -> Source:
    import dask
    import dask.array as da
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from jaccli.io.inputs.batch import EMPTY_HINT, check_name

    files = sorted(glob.glob(os.path.join(path, "*.parquet"))) if os.path.isdir(path) else [path]
    try:
        metas = [(f, pq.ParquetFile(f).metadata) for f in files]
    except OSError as exc:
        raise InputError(f"cannot read the Parquet file: {exc}", where=path, hint="check the path") from None
    schema = metas[0][1].schema.to_arrow_schema()
    every = list(schema.names)
    names = [every[i] for i in pick(every, picked, path)]
    dtypes = []
    for name in names:
        kind = schema.field(name).type
        check_name(name, "column name", path)
        dtype = np.dtype(kind.to_pandas_dtype()) if _numeric(kind) else None
        if dtype is None:
            raise InputError(f"column {name!r} has type {kind}, not a number", where=path,
                             hint="every column is an element of the example: store numbers only")
        dtypes.append(dtype)
    dtype = np.result_type(*dtypes)
    blocks = []
    for f, meta in metas:
        if meta.schema.to_arrow_schema().names != every:
            raise InputError("its columns differ from the first file's", where=f,
                             hint="every part needs the same columns")
        start = 0
        for g in range(meta.num_row_groups):
            rows = meta.row_group(g).num_rows
            if rows:
                task = dask.delayed(read_row_group, pure=True)(f, g, tuple(names), dtype.str, start)
                blocks.append(da.from_delayed(task, shape=(rows, len(names)), dtype=dtype))
            start += rows
    if not blocks:
        raise InputError("empty input: no rows", where=path, hint=EMPTY_HINT)
    return Source({"x": da.concatenate(blocks)}, path, columns=names)


def _numeric(kind: Any) -> bool:
    import pyarrow.types as pt  # type: ignore[import-untyped]

    return bool(pt.is_integer(kind) or pt.is_floating(kind))


def read_row_group(path: str, group: int, names: tuple[str, ...], dtype: str, start: int) -> np.ndarray:
    """One row group as ``(rows, columns)``; a null is refused like an empty CSV cell."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    table = pq.ParquetFile(path).read_row_group(group, columns=list(names))
    out = np.empty((table.num_rows, len(names)), dtype=np.dtype(dtype))
    for j, name in enumerate(names):
        column = table.column(name)  # by name: the requested order, whatever the file's
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise InputError(f"column {names[j]!r} is null (missing)", where=f"{path}: row {start + row}",
                             hint="every cell must be a number")
        out[:, j] = column.to_numpy()
    return out


# --- .npy files ---------------------------------------------------------------------------------------------

def _npy_files(files: list[str], pattern: str, wrt: str, allow_nonfinite: bool) -> Source:
    import dask
    import dask.array as da

    from jaccli.io.inputs.batch import EMPTY_HINT, open_binary
    from jaccli.io.inputs.npy import check_size, read_header

    headers, first = [], None
    for f in files:
        with open_binary(f) as handle:
            header = read_header(handle, f)
            total = os.fstat(handle.fileno()).st_size
        check_size(header, total, f)
        if not header.shape or header.shape[0] == 0:
            raise InputError(f"the array has shape {header.shape}: no batch axis or no examples", where=f,
                             hint=EMPTY_HINT)
        if first is None:
            first = header
        elif header.shape[1:] != first.shape[1:] or header.dtype != first.dtype:
            raise InputError(f"shape {header.shape} and dtype {header.dtype} do not match the first file's "
                             f"{first.shape} and {first.dtype}", where=f,
                             hint="every part needs the same example shape")
        headers.append((f, header))
    assert first is not None  # files is not empty

    def reopen(rows: int) -> dict[str, Any]:
        """Blocks of ``rows`` rows, each read by its own task (a file's last block may be shorter)."""
        blocks = []
        for f, header in headers:
            for start in range(0, header.shape[0], rows):
                stop = min(start + rows, header.shape[0])
                task = dask.delayed(read_npy_rows, pure=True)(f, header, start, stop, wrt, allow_nonfinite)
                blocks.append(da.from_delayed(task, shape=(stop - start,) + header.shape[1:], dtype=header.dtype))
        return {wrt: da.concatenate(blocks)}

    step = max(1, NPY_BLOCK_BYTES // max(1, first.nbytes // first.shape[0]))
    return Source(reopen(step), pattern, checked=True, reopen=reopen)


NPY_BLOCK_BYTES = 64 << 20


def read_npy_rows(path: str, header: Any, start: int, stop: int, name: str, allow_nonfinite: bool) -> np.ndarray:
    """Rows ``start:stop`` of a checked ``.npy`` file, memory-mapped, with the local reader's finiteness check."""
    from jaccli.io.inputs.batch import check_finite, value_dtype

    mapped = np.memmap(path, dtype=header.dtype, mode="r", offset=header.offset, shape=header.shape,
                       order="F" if header.fortran_order else "C")
    rows = np.array(mapped[start:stop], order="C")
    del mapped
    if not allow_nonfinite:
        check_finite(rows.astype(value_dtype(rows.dtype), copy=False), start, path, name)
    return rows


# --- .csv files ---------------------------------------------------------------------------------------------

def _csv_files(files: list[str], pattern: str, wrt: str, allow_nonfinite: bool,
               picked: list[str] | None) -> Source:
    """Each file is a block; a first pass on the workers counts (and checks) the rows of every file."""
    import dask
    import dask.array as da

    from jaccli.io.inputs.batch import EMPTY_HINT

    heads = dask.compute(*[dask.delayed(csv_head, pure=True)(f, allow_nonfinite) for f in files])
    columns, ncols = heads[0][1], heads[0][2]
    for f, (rows, names, width) in zip(files, heads):
        if (names, width) != (columns, ncols):
            raise InputError(f"its header or column count ({width}) differs from {files[0]}'s ({ncols})", where=f,
                             hint="every part needs the same columns")
    if picked is not None and not columns:
        raise UsageError("--columns needs a CSV header", hint="add a header row naming the columns")
    keep = pick(columns, picked, files[0]) if columns else list(range(ncols))
    name = "x" if columns else wrt
    blocks = [da.from_delayed(dask.delayed(read_csv_file, pure=True)(f, allow_nonfinite, tuple(keep)),
                              shape=(rows, len(keep)), dtype=np.float64)
              for f, (rows, _, _) in zip(files, heads) if rows]
    if not blocks:
        raise InputError("empty input: no rows", where=pattern, hint=EMPTY_HINT)
    names = [columns[i] for i in keep] if columns else None
    return Source({name: da.concatenate(blocks)}, pattern, columns=names, checked=True)


def csv_head(path: str, allow_nonfinite: bool) -> tuple[int, list[str] | None, int]:
    """Rows (all of them parsed and checked), header names and column count of one CSV file."""
    from jaccli.io.inputs import read_batch

    batch = read_batch(path, "csv", allow_nonfinite=allow_nonfinite)
    rows = sum(chunk["x"].shape[0] for chunk in batch.chunks(1 << 16))
    return rows, batch.columns, batch.arrays["x"].event_shape[0]


def read_csv_file(path: str, allow_nonfinite: bool, keep: tuple[int, ...]) -> np.ndarray:
    from jaccli.io.inputs import read_batch

    batch = read_batch(path, "csv", allow_nonfinite=allow_nonfinite)
    rows = np.concatenate([chunk["x"] for chunk in batch.chunks(1 << 16)])
    return rows if keep == tuple(range(rows.shape[1])) else np.ascontiguousarray(rows[:, list(keep)])
