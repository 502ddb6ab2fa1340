"""Read a result back from any of the four files jaccli writes (README "Outputs"), for golden-file checks.

``read_result(path)`` returns a ``Result``: the array (None for a saved None result), its full shape ``(B, ...)``,
dtype, axis names when the file has them, and the label used in messages. Parsing is strict, because a golden file
that is silently misread makes every later check meaningless; a bad file is an ``InputError`` (exit 3) naming the
file and a location (``file:line:column`` for text formats, ``file: data[1][0]`` for a JSON value).

json and npy are the exact formats: they round-trip every bit. csv is exact for the values but does not record the
dtype (``dtype_known`` is False, so a dtype difference is not reported). text is rounded to ``--precision`` digits
(``exact`` is False): use it as a golden only with tolerances that allow for the rounding.

This module owns ``Result``, choosing the format (extension, then ``sniff_result_format``) and the json and npy
readers; the csv and text parsers live in ``results_text``; the strict-JSON hooks, the nested-list walker, the UTF-8
decoding and the wording of a JSON value in a message (``describe_json``), which all readers share, in
``jaccli.textkit``; the format names in ``jaccli.io.formats``.
"""
from __future__ import annotations

import io
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaccli.io.inputs.compression import NPY_MAGIC
from jaccli.io.inputs.npy import array_from_bytes, check_size, read_header
from jaccli.errors import InputError, did_you_mean
from jaccli.checks.results_text import DTYPES, REWRITE_HINT, parse_csv, parse_text
from jaccli.io.formats import RESULT_EXTENSIONS, RESULT_FORMATS, check_format
from jaccli.textkit import (JSON_NONFINITE, JSON_NONFINITE_NAMES, NotRectangular, decode_utf8, describe_json,
                            finite_float, item_path, label_for, nested_leaves, refuse_constant, text_start,
                            unique_keys, unravel)

_JSON_KEYS = ("shape", "dtype", "order", "layout", "data")


@dataclass
class Result:
    """One result as read from a file (or computed in memory), ready for ``compare``.

    ``shape`` is the full shape ``(B, *T, *S, ...)``; it is None only for a text ``None``, which does not say what
    shape it stands for. ``dtype_known`` is False when the file does not record the dtype (csv, text ``None``), and
    ``exact`` is False when the values were rounded on the way out (text).
    """

    array: np.ndarray | None
    shape: tuple[int, ...] | None
    dtype: np.dtype
    layout: list[str] | None = None
    label: str = "result"
    dtype_known: bool = True
    exact: bool = True
    fmt: str = "memory"
    flat: bool = False  # a csv with a names header: (B, cells), its per-example shape not written down

    @classmethod
    def from_array(cls, array: np.ndarray | None, *, layout: list[str] | None = None, label: str = "result",
                   shape: tuple[int, ...] | None = None, dtype: np.dtype | None = None) -> "Result":
        """A result computed in memory (the CLI's ``--expect``). For None give the ``shape`` and ``dtype`` it has."""
        if array is None:
            return cls(None, None if shape is None else tuple(shape), np.dtype(dtype or np.float64), layout, label,
                       dtype_known=dtype is not None)
        array = np.asarray(array)
        return cls(array, tuple(array.shape), array.dtype, layout, label)


def read_bytes(path: str) -> bytes:
    """The whole file, ``-`` being standard input; ``OSError`` is the caller's to word."""
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as handle:
        return handle.read()


def read_result(path: str, fmt: str = "auto") -> Result:
    """Read a file that jaccli wrote (``-`` is standard input). ``fmt`` is one of ``RESULT_FORMATS``."""
    check_format(fmt, RESULT_FORMATS, "golden")
    label = label_for(path)
    try:
        data = read_bytes(path)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", where=label,
                         hint="check the path of the golden file") from None
    return parse_result(data, label, fmt)


def parse_result(data: bytes, label: str, fmt: str = "auto") -> Result:
    """A result from the bytes of a file named ``label`` (``auto``: by its extension, then by content)."""
    if fmt == "auto":
        fmt = RESULT_EXTENSIONS.get(os.path.splitext(label)[1].lower()) or sniff_result_format(data)
    reader = {"json": _read_json, "npy": _read_npy, "csv": _read_csv, "text": _read_text}[fmt]
    return reader(data, label)


def sniff_result_format(data: bytes) -> str:
    """Guess the format of a file with an unknown extension from its first bytes."""
    if data.startswith(NPY_MAGIC):
        return "npy"
    head = text_start(data)
    if head.startswith(b"{"):
        return "json"
    if head.startswith((b"Tensor(", b"None")):
        return "text"
    return "csv"


def _check_values(values: np.ndarray, dtype: np.dtype, label: str, name: str) -> np.ndarray:
    """Cast float64 values to ``dtype``, refusing a finite value that overflows it (it would turn into inf)."""
    with np.errstate(over="ignore"):
        cast = values.astype(dtype)
    bad = np.isfinite(values) & ~np.isfinite(cast)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{float(values[index])!r} does not fit in {dtype.name}",
                         where=f"{label}: {name}{item_path(index)}",
                         hint=f"{dtype.name} holds values up to {float(np.finfo(dtype).max):g}; a larger value "
                              "needs the dtype float64")
    return cast


# -- json -------------------------------------------------------------------------------------------------------------

def load_json(data: bytes, label: str) -> Any:
    """Strict JSON (``textkit``'s hooks: no NaN/Infinity literals, no overflow to inf, no repeated key)."""
    text = decode_utf8(data, label)
    try:
        return json.loads(text, parse_constant=refuse_constant, parse_float=finite_float, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", where=f"{label}:{exc.lineno}:{exc.colno}",
                         hint=REWRITE_HINT) from None
    except InputError as exc:  # from the hooks, which do not know the file
        raise InputError(exc.message, where=label, hint=exc.hint) from None
    except (ValueError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "JSON nested too deeply"
        raise InputError(message, where=label, hint=REWRITE_HINT) from None


def _read_json(data: bytes, label: str) -> Result:
    obj = load_json(data, label)
    hint = "jaccli's JSON object has the keys " + ", ".join(_JSON_KEYS)
    if not isinstance(obj, dict):
        raise InputError(f"expected an object, found {describe_json(obj)}", where=label, hint=hint)
    for key in obj:
        if key not in _JSON_KEYS:
            guess = did_you_mean(key, _JSON_KEYS)
            raise InputError(f"unknown key {key!r}" + (f" (did you mean {guess!r}?)" if guess else ""), where=label,
                             hint=hint)
    for key in ("shape", "dtype", "data"):
        if key not in obj:
            raise InputError(f"missing key {key!r}", where=label, hint=hint)
    shape, dtype, order, layout = obj["shape"], obj["dtype"], obj.get("order", 1), obj.get("layout")
    if not isinstance(shape, list) or not shape or not all(_is_size(n) for n in shape):
        raise InputError(f"'shape' must be a non-empty list of sizes >= 0, not {describe_json(shape)}", where=label,
                         hint='e.g. "shape": [2, 3, 3]: the batch size, then the size of every other axis')
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise InputError(f"'dtype' must be float16, float32 or float64, not {describe_json(dtype)}", where=label,
                         hint='e.g. "dtype": "float64"')
    if not _is_size(order) or order < 0:  # order 0 is the value (-k 0)
        raise InputError(f"'order' must be a whole number >= 0, not {describe_json(order)}", where=label,
                         hint='e.g. "order": 1 (0 is the value)')
    if layout is not None and (not isinstance(layout, list) or not all(isinstance(n, str) for n in layout)
                               or (layout and len(layout) != len(shape))):
        raise InputError(f"'layout' must be {len(shape)} axis names, not {describe_json(layout)}", where=label,
                         hint='one name per axis, e.g. "layout": ["batch", "target.0", "x.0:d1"], or leave it out')
    dtype = DTYPES[dtype]
    result = Result(None, tuple(shape), dtype, layout or None, label, fmt="json")
    if obj["data"] is not None:
        result.array = _check_values(_json_data(obj["data"], tuple(shape), label), dtype, label, "data")
    return result


def _json_data(data: object, shape: tuple[int, ...], label: str) -> np.ndarray:
    """The nested lists of ``data`` as a float64 array of ``shape``; checked level by level (no recursion)."""
    try:
        nodes, _ = nested_leaves(data, shape)
    except NotRectangular as exc:
        raise InputError(f"expected a list of {exc.length} (shape {shape}), found {describe_json(exc.node)}",
                         where=f"{label}: data{item_path(exc.index)}",
                         hint="'data' must have the size that 'shape' gives on every axis") from None
    values = []
    for position, item in enumerate(nodes):
        if isinstance(item, float) or (isinstance(item, int) and not isinstance(item, bool) and abs(item) < 2**1000):
            values.append(float(item))
        elif isinstance(item, str) and item in JSON_NONFINITE:
            values.append(JSON_NONFINITE[item])
        else:
            index = item_path(unravel(position, shape))
            what = "is out of range" if isinstance(item, int) and not isinstance(item, bool) else "is not a number"
            raise InputError(f"{describe_json(item)} {what}", where=f"{label}: data{index}",
                             hint=f"values are numbers or the strings {JSON_NONFINITE_NAMES}")
    return np.array(values, dtype=np.float64).reshape(shape)


def _is_size(value: object) -> bool:
    """A whole number usable as an array size (JSON's true/false are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62


# -- npy --------------------------------------------------------------------------------------------------------------

def _read_npy(data: bytes, label: str) -> Result:
    """The same strict header reader as input files: checked against the byte count before any data is touched."""
    header = read_header(io.BytesIO(data), label)
    check_size(header, len(data), label)
    if header.dtype.kind != "f" or header.dtype.itemsize not in (2, 4, 8):
        raise InputError(f"results are float16, float32 or float64, not {header.dtype}", where=label,
                         hint="save the golden array as float with numpy.save, or write it with jaccli -f npy")
    if not header.shape:
        raise InputError("a result has a batch axis, but this array has shape ()", where=label,
                         hint="save the golden array with its batch axis first: shape (B, ...)")
    native = array_from_bytes(header, data, header.offset)
    native = native.astype(native.dtype.newbyteorder("="))
    return Result(native, header.shape, native.dtype, None, label, fmt="npy")


# -- csv and text: parsed in results_text -----------------------------------------------------------------------------

def _read_csv(data: bytes, label: str) -> Result:
    values, named = parse_csv(data, label)
    return Result(values, tuple(values.shape), values.dtype, None, label, dtype_known=False, fmt="csv", flat=named)


def _read_text(data: bytes, label: str) -> Result:
    parsed = parse_text(data, label)
    if parsed is None:
        return Result(None, None, np.dtype(np.float64), None, label, dtype_known=False, fmt="text")
    values, dtype = parsed
    return Result(_check_values(values, dtype, label, "values"), tuple(values.shape), dtype, None, label, exact=False,
                  fmt="text")
