"""What every reader returns (``Batch``) and the checks all formats share: accepted dtypes, names, finiteness.

Shapes: ``B`` is the batch size (first axis of every non-scalar array), ``S`` an array's event shape (the rest).
A chunk is ``{name: array of shape (b, *S)}`` with ``b <= n`` examples, C-contiguous, owned (never a view of a
memory map), in ``ArraySpec.value_dtype``.
"""
from __future__ import annotations

import keyword
import math
import mmap
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Callable, Iterator, Mapping

import numpy as np

from jaccli.errors import InputError
from jaccli.expr.names import NAME_HINT, is_valid_name

Chunk = dict[str, np.ndarray]

NONFINITE_HINT = "pass --allow-nonfinite to accept nan and inf"
EMPTY_HINT = "give at least one example: a data row, or an entry along the first (batch) axis"
PATH_HINT = "check the path ('-' reads standard input)"


@dataclass(frozen=True)
class ArraySpec:
    """One named input array: ``event_shape`` is ``S`` (one example's shape, after the batch axis) and ``dtype``
    the file's dtype before conversion (float64 for the text formats)."""

    event_shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def value_dtype(self) -> np.dtype:
        """The dtype ``Batch.chunks`` yields for this array."""
        return value_dtype(self.dtype)


@dataclass
class Batch:
    """A batched input: named per-example arrays (first axis = batch) plus per-file scalars."""

    arrays: dict[str, ArraySpec]  # name -> spec; CSV/TSV/NPY/JSON-array inputs hold exactly one
    scalars: dict[str, float]  # 0-d arrays from npz / JSON-object numbers; the same for every example
    columns: list[str] | None  # CSV/TSV header names (None without a header); len == S[0]
    size: int | None  # B when known before iterating (npy/npz/json); None for csv/tsv streams
    label: str  # file name for messages ('<stdin>' for standard input)
    # The reader's generator factory; kept out of repr/eq so a Batch prints as plain data.
    _chunker: Callable[[int], Iterator[Chunk]] = field(repr=False, compare=False)
    notes: list[str] = field(default_factory=list)  # what the reader decided for the user (skipped columns)
    named: bool = False  # the input names its arrays (npz, JSON object): outputs may use the names

    def chunks(self, n: int) -> Iterator[Chunk]:
        """Yield consecutive chunks of at most ``n`` examples (exactly ``n`` except the last):
        ``name -> array (b, *S)``, float64 (integers converted) or float32 (float16/float32 files), finite unless
        the reader was told ``allow_nonfinite``. Raises ``InputError`` while iterating, at the first bad value.

        File inputs can be iterated again; standard input only once."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"chunk size must be a positive integer, not {n!r}")
        return self._chunker(n)

    def renamed(self, old: str, new: str) -> Batch:
        """The same batch with array ``old`` called ``new`` (a CSV row is ``x`` whatever the reader called it)."""
        if old == new:
            return self
        chunker = self._chunker
        arrays = {new if k == old else k: v for k, v in self.arrays.items()}
        return replace(self, arrays=arrays, _chunker=lambda n: (
            {new if k == old else k: v for k, v in c.items()} for c in chunker(n)))

    def tapped(self, see: Callable[[Chunk], None]) -> Batch:
        """The same batch; ``see`` is shown every chunk as it is read (``--verify`` keeps them to sample rows)."""
        chunker = self._chunker

        def seen(n: int) -> Iterator[Chunk]:
            for chunk in chunker(n):
                see(chunk)
                yield chunk

        return replace(self, _chunker=seen)


# --- dtypes -------------------------------------------------------------------------------------------------

def value_dtype(dtype: np.dtype) -> np.dtype:
    """float32 for float16/float32 (the engine may compute in float32), float64 for integers and wider floats."""
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


_REFUSED_KINDS = {
    "b": "booleans are not numbers here",
    "c": "complex numbers are not supported",
    "U": "text arrays are refused",
    "S": "byte-string arrays are refused",
    "M": "dates are refused",
    "m": "time deltas are refused",
}


def check_dtype(dtype: np.dtype, where: str) -> None:
    """Refuse anything that is not a plain real number (int/uint/float), before any data is read."""
    if dtype.hasobject:
        raise InputError("pickled/object arrays are refused", where=where,
                         hint="save a numeric array, e.g. numpy.save(path, a.astype(float))")
    if dtype.names is not None or dtype.subdtype is not None:
        raise InputError(f"structured dtype {dtype} is refused", where=where,
                         hint="save each field as its own array (an .npz holds several)")
    if dtype.kind not in "iuf":
        reason = _REFUSED_KINDS.get(dtype.kind, f"dtype {dtype} is not a real number")
        raise InputError(f"{reason} (dtype {dtype})", where=where, hint="convert the array to float before saving it")


# --- names and sizes ----------------------------------------------------------------------------------------

def check_name(name: str, what: str, where: str) -> None:
    """Raise unless ``name`` can be written in an expression (``what`` is e.g. 'array name')."""
    if not is_valid_name(name):
        reason = "is a Python keyword" if keyword.iskeyword(name) else "is not a valid name"
        raise InputError(f"{what} {name!r} {reason}", where=where, hint=NAME_HINT)


def common_batch_size(label: str, shapes: Mapping[str, tuple[int, ...]]) -> int:
    """The shared first-axis length B of the non-scalar arrays; raises naming two arrays that disagree."""
    if not shapes:
        raise InputError("no array with a batch axis", where=label,
                         hint="at least one array needs a first (batch) axis; 0-d arrays are per-file scalars")
    first, first_shape = next(iter(shapes.items()))
    for name, shape in shapes.items():
        if shape[0] != first_shape[0]:
            raise InputError(
                f"arrays {first!r} and {name!r} have different batch sizes ({first_shape[0]} and {shape[0]})",
                where=label, hint="the first axis of every array is the batch axis; pass an array shared by every "
                                  "example (weights) with --param NAME=PATH (API: params=)")
    if first_shape[0] == 0:
        raise InputError(f"empty input: array {first!r} has no examples (batch size 0)", where=label,
                         hint=EMPTY_HINT)
    return first_shape[0]


# --- values -------------------------------------------------------------------------------------------------

def format_index(index: tuple[int, ...]) -> str:
    """numpy's spelling of an index: ``(3,)``, ``(3, 1)``."""
    return str(tuple(int(i) for i in index))


def check_finite(values: np.ndarray, start: int, label: str, name: str) -> None:
    """Raise at the first (C order) non-finite value of a chunk; ``start`` is the chunk's first global example."""
    if values.dtype.kind != "f" or values.size == 0:
        return
    finite = np.isfinite(values)
    if finite.all():
        return
    local = np.unravel_index(int(np.argmin(finite)), values.shape)  # argmin of bool = first False
    index = (start + int(local[0]), *(int(i) for i in local[1:]))
    raise InputError(f"{describe_float(float(values[local]))} is not a finite number",
                     where=f"{label}: array '{name}' index {format_index(index)}", hint=NONFINITE_HINT)


def check_finite_scalar(value: float, label: str, name: str) -> None:
    """The scalar version of ``check_finite`` (0-d npz arrays, JSON-object numbers)."""
    if not math.isfinite(value):
        raise InputError(f"{describe_float(value)} is not a finite number", where=f"{label}: array '{name}'",
                         hint=NONFINITE_HINT)


def describe_float(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)


def array_chunks(label: str, arrays: Mapping[str, np.ndarray], size: int, n: int,
                 allow_nonfinite: bool) -> Iterator[Chunk]:
    """Chunks of in-memory or memory-mapped arrays (each ``(B, *S)``): slice, copy-convert, validate.

    ``np.array(..., order='C')`` always copies, so a chunk never aliases a memory map or a Fortran-order array."""
    for start in range(0, size, n):
        chunk: Chunk = {}
        for name, array in arrays.items():
            part = np.array(array[start:start + n], dtype=value_dtype(array.dtype), order="C")
            if not allow_nonfinite:
                check_finite(part, start, label, name)
            chunk[name] = part
        yield chunk
        for array in arrays.values():
            _release(array)


def _release(array: np.ndarray) -> None:
    """Drop a memory map's pages once a chunk is copied out: they are clean and re-readable, but they would count
    in the process's resident memory and make a streamed 2 000 000-row run look like it holds the whole file."""
    base: object = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)  # ndarray view -> np.memmap -> mmap.mmap
    if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        base.madvise(mmap.MADV_DONTNEED)


def batch_from_arrays(label: str, arrays: Mapping[str, object], *, allow_nonfinite: bool = False) -> Batch:
    """A ``Batch`` over named arrays already in memory (or memory-mapped): each is ``(B, *S)``, or 0-d for a
    per-file scalar. Used by the npy/npz/json readers, and usable by the Python API for numpy arguments."""
    scalars: dict[str, float] = {}
    batched: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        array = np.asarray(value)
        check_dtype(array.dtype, f"{label}: array '{name}'")
        if array.ndim == 0:
            scalars[name] = float(array.astype(value_dtype(array.dtype)))
            if not allow_nonfinite:
                check_finite_scalar(scalars[name], label, name)
        else:
            batched[name] = array
    size = common_batch_size(label, {name: array.shape for name, array in batched.items()})
    specs = {name: ArraySpec(tuple(array.shape[1:]), array.dtype) for name, array in batched.items()}
    return Batch(specs, scalars, None, size, label,
                 lambda n: array_chunks(label, batched, size, n, allow_nonfinite))


# --- files --------------------------------------------------------------------------------------------------

def open_binary(path: str) -> BinaryIO:
    """Open a file for reading, turning OS errors into an exit-3 ``InputError``; ``.gz``/``.bz2``/``.xz`` files
    are decompressed on the fly."""
    from jaccli.io.inputs.compression import compression_of, decompressing

    try:
        handle: BinaryIO = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read the input file: {exc.strerror or exc}", where=path,
                         hint=PATH_HINT) from None
    kind = compression_of(path)
    return decompressing(handle, kind, path) if kind else handle


def read_all(path: str | None, stream: BinaryIO | None, label: str) -> bytes:
    """All bytes of a file (``path``) or of standard input (``stream``); for formats that are not streamed."""
    if stream is not None:
        try:
            return stream.read()
        except OSError as exc:
            from jaccli.io.inputs.compression import STDIN_HINT

            raise InputError(f"cannot read standard input: {exc}", where=label, hint=STDIN_HINT) from None
    assert path is not None
    with open_binary(path) as handle:
        return handle.read()
