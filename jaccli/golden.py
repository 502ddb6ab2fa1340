"""Read a result back from any of the four files jaccli writes (SPEC §5), for golden-file checks.

``read_result(path)`` returns a ``Result``: the array (None for a saved None result), its full shape ``(B, ...)``,
dtype, axis names when the file has them, and the label used in messages. Parsing is strict, because a golden file
that is silently misread makes every later check meaningless; a bad file is an ``InputError`` (exit 3) naming the
file and a location (``file:line:column`` for text formats, ``file: data[1][0]`` for a JSON value).

json and npy are the exact formats: they round-trip every bit. csv is exact for the values but does not record the
dtype (``dtype_known`` is False, so a dtype difference is not reported). text is rounded to ``--precision`` digits
(``exact`` is False): use it as a golden only with tolerances that allow for the rounding.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .errors import InputError, UsageError, did_you_mean

GOLDEN_FORMATS = ("auto", "text", "json", "csv", "npy")
_EXTENSIONS = {".json": "json", ".npy": "npy", ".csv": "csv", ".txt": "text", ".text": "text"}
_DTYPES = {name: np.dtype(name) for name in ("float16", "float32", "float64")}
_JSON_KEYS = ("shape", "dtype", "order", "layout", "data")
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_NONFINITE_NAMES = '"nan", "inf", "-inf"'
# A number as numpy prints it (``48.``, ``-1.2e-05``, ``1.e+10``, ``nan``, ``-inf``) or as Python's repr writes it.
_NUMBER = r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf)"
_NUMBER_RE = re.compile(_NUMBER)
_TEXT_TAIL_RE = re.compile(r",\s*shape=\(([0-9, ]*)\),\s*dtype=(\w+)\)\s*\Z")
_TEXT_TOKEN_RE = re.compile(r"\[|\]|[^\s\[\]]+")
_CSV_CELL_RE = re.compile(r"J((?:\[\d+\])*)")
_CSV_HINT = "a jaccli csv header lists every J[...] of one example in C order"


@dataclass
class Result:
    """One result as read from a file (or computed in memory), ready for ``compare``.

    ``shape`` is the full shape ``(B, *T, *S, ...)``; it is None only for a text ``None``, which does not say what
    shape it stands for. ``dtype_known`` is False when the file does not record the dtype (csv, text ``None``), and
    ``exact`` is False when the values were rounded on the way out (text).
    """

    array: Optional[np.ndarray]
    shape: Optional[tuple[int, ...]]
    dtype: np.dtype
    layout: Optional[list[str]] = None
    label: str = "result"
    dtype_known: bool = True
    exact: bool = True
    fmt: str = "memory"

    @classmethod
    def from_array(cls, array: Optional[np.ndarray], *, layout: Optional[list[str]] = None, label: str = "result",
                   shape: Optional[tuple[int, ...]] = None, dtype: Optional[np.dtype] = None) -> "Result":
        """A result computed in memory (the CLI's ``--expect``). For None give the ``shape`` and ``dtype`` it has."""
        if array is None:
            return cls(None, None if shape is None else tuple(shape), np.dtype(dtype or np.float64), layout, label,
                       dtype_known=dtype is not None)
        array = np.asarray(array)
        return cls(array, tuple(array.shape), array.dtype, layout, label)


def read_result(path: str, fmt: str = "auto") -> Result:
    """Read a file that jaccli wrote (``-`` is standard input). ``fmt`` is one of ``GOLDEN_FORMATS``."""
    if fmt not in GOLDEN_FORMATS:
        guess = did_you_mean(fmt, GOLDEN_FORMATS)
        raise UsageError(f"unknown golden format '{fmt}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                         hint="the formats are " + ", ".join(GOLDEN_FORMATS))
    label = "<stdin>" if path == "-" else str(path)
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", where=label,
                         hint="check the path of the golden file") from None
    if fmt == "auto":
        fmt = _EXTENSIONS.get(os.path.splitext(label)[1].lower()) or sniff_format(data)
    reader = {"json": _read_json, "npy": _read_npy, "csv": _read_csv, "text": _read_text}[fmt]
    return reader(data, label)


def sniff_format(data: bytes) -> str:
    """Guess the format of a file with an unknown extension from its first bytes."""
    if data.startswith(b"\x93NUMPY"):
        return "npy"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "json"
    if head.startswith((b"Tensor(", b"None")):
        return "text"
    return "csv"


def _decode(data: bytes, label: str) -> str:
    """UTF-8 text (a BOM is dropped); a bad byte is reported at its line and column."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[:exc.start].decode("utf-8-sig")  # valid up to exc.start; columns count characters
        raise _error_at(f"invalid UTF-8 byte 0x{data[exc.start]:02x}", label, before, len(before)) from None


def _error_at(message: str, label: str, text: str, offset: int, hint: Optional[str] = None) -> InputError:
    """An InputError at ``label:line:column`` (1-based) of a character offset in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return InputError(message, where=f"{label}:{line}:{column}", hint=hint)


def _check_values(values: np.ndarray, dtype: np.dtype, label: str, name: str) -> np.ndarray:
    """Cast float64 values to ``dtype``, refusing a finite value that overflows it (it would turn into inf)."""
    with np.errstate(over="ignore"):
        cast = values.astype(dtype)
    bad = np.isfinite(values) & ~np.isfinite(cast)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{float(values[index])!r} does not fit in {dtype.name}",
                         where=f"{label}: {name}" + "".join(f"[{i}]" for i in index))
    return cast


# -- json -------------------------------------------------------------------------------------------------------------

def _read_json(data: bytes, label: str) -> Result:
    text = _decode(data, label)

    def refuse_constant(name: str) -> None:
        raise ValueError(f"{name} is not JSON; jaccli writes non-finite values as the strings {_NONFINITE_NAMES}")

    def finite_float(literal: str) -> float:
        if not math.isfinite(value := float(literal)):  # 1e400: json would make it inf without a word
            raise ValueError(f"{literal} is out of the float64 range")
        return value

    def unique_keys(pairs: list[tuple[str, object]]) -> dict:
        found: dict = {}
        for key, value in pairs:
            if key in found:
                raise ValueError(f"key {key!r} appears twice")
            found[key] = value
        return found

    try:
        obj = json.loads(text, parse_constant=refuse_constant, parse_float=finite_float, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", where=f"{label}:{exc.lineno}:{exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "JSON nested too deeply"
        raise InputError(message, where=label) from None
    hint = "jaccli's JSON object has the keys " + ", ".join(_JSON_KEYS)
    if not isinstance(obj, dict):
        raise InputError(f"expected an object, found {_brief(obj)}", where=label, hint=hint)
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
        raise InputError(f"'shape' must be a non-empty list of sizes >= 0, not {_brief(shape)}", where=label)
    if not isinstance(dtype, str) or dtype not in _DTYPES:
        raise InputError(f"'dtype' must be float16, float32 or float64, not {_brief(dtype)}", where=label)
    if not _is_size(order) or order < 1:
        raise InputError(f"'order' must be a whole number >= 1, not {_brief(order)}", where=label)
    if layout is not None and (not isinstance(layout, list) or not all(isinstance(n, str) for n in layout)
                               or (layout and len(layout) != len(shape))):
        raise InputError(f"'layout' must be {len(shape)} axis names, not {_brief(layout)}", where=label)
    dtype = _DTYPES[dtype]
    result = Result(None, tuple(shape), dtype, layout or None, label, fmt="json")
    if obj["data"] is not None:
        result.array = _check_values(_json_data(obj["data"], tuple(shape), label), dtype, label, "data")
    return result


def _json_data(data: object, shape: tuple[int, ...], label: str) -> np.ndarray:
    """The nested lists of ``data`` as a float64 array of ``shape``; checked level by level (no recursion)."""
    nodes = [data]
    for depth, size in enumerate(shape):
        for position, node in enumerate(nodes):
            if not isinstance(node, list) or len(node) != size:
                index = "".join(f"[{i}]" for i in np.unravel_index(position, shape[:depth])) if depth else ""
                raise InputError(f"expected a list of {size} (shape {shape}), found {_brief(node)}",
                                 where=f"{label}: data{index}")
        nodes = [item for node in nodes for item in node]
    values = []
    for position, item in enumerate(nodes):
        if isinstance(item, float) or (isinstance(item, int) and not isinstance(item, bool) and abs(item) < 2**1000):
            values.append(float(item))
        elif isinstance(item, str) and item in _NONFINITE:
            values.append(_NONFINITE[item])
        else:
            index = "".join(f"[{i}]" for i in np.unravel_index(position, shape))
            what = "is out of range" if isinstance(item, int) and not isinstance(item, bool) else "is not a number"
            raise InputError(f"{_brief(item)} {what}", where=f"{label}: data{index}",
                             hint=f"values are numbers or the strings {_NONFINITE_NAMES}")
    return np.array(values, dtype=np.float64).reshape(shape)


def _is_size(value: object) -> bool:
    """A whole number usable as an array size (JSON's true/false are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62


def _brief(value: object) -> str:
    """A short description of a JSON value for messages: never the repr of a huge or deeply nested list."""
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else repr(value)[:40]


# -- npy --------------------------------------------------------------------------------------------------------------

def _read_npy(data: bytes, label: str) -> Result:
    """The header is checked against the byte count before any data is touched, so a lying header costs nothing."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"format version {version[0]}.{version[1]} is not supported (jaccli writes 1.0)")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(stream)
    except (ValueError, OSError, SyntaxError) as exc:
        raise InputError(f"not a valid .npy file: {exc}", where=label) from None
    if dtype.hasobject or dtype.fields is not None:
        raise InputError(f"pickled or structured arrays are refused (dtype {dtype})", where=label)
    if dtype.kind != "f" or dtype.itemsize not in (2, 4, 8):
        raise InputError(f"results are float16, float32 or float64, not {dtype}", where=label)
    if not shape:
        raise InputError("a result has a batch axis, but this array has shape ()", where=label)
    expected = math.prod(shape) * dtype.itemsize
    body = data[stream.tell():]
    if len(body) != expected:
        raise InputError(f"the header promises shape {shape} ({expected} bytes of data) but the file has "
                         f"{len(body)}", where=label)
    array = np.frombuffer(body, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")
    native = array.astype(dtype.newbyteorder("="))
    return Result(native, tuple(shape), native.dtype, None, label, fmt="npy")


# -- csv --------------------------------------------------------------------------------------------------------------

def _read_csv(data: bytes, label: str) -> Result:
    lines = _decode(data, label).replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines:
        raise InputError("empty file: expected a header row J[0][0],J[0][1],...", where=label)
    header = lines[0].split(",")
    last = _CSV_CELL_RE.fullmatch(header[-1])
    if last is None:
        raise InputError(f"{header[-1]!r} is not a header cell like J or J[0][1]",
                         where=f"{label}:1:{len(lines[0]) - len(header[-1]) + 1}")
    per_example = tuple(int(i) + 1 for i in re.findall(r"\d+", last.group(1)))
    if math.prod(per_example) != len(header):  # checked first: a lying last cell must not make us build a huge list
        raise InputError(f"the header has {len(header)} cells, but its last cell {header[-1]} implies "
                         f"{math.prod(per_example)}", where=f"{label}:1:1", hint=_CSV_HINT)
    cells = ["J" + "".join(f"[{i}]" for i in index) for index in np.ndindex(*per_example)]
    if header != cells:
        column = 1
        for found, wanted in zip(header + [""], cells + [""]):
            if found != wanted:
                break
            column += len(found) + 1
        raise InputError(f"header cell {found!r} is not {wanted!r} (per-example shape {per_example})",
                         where=f"{label}:1:{column}", hint=_CSV_HINT)
    if len(lines) == 1:
        raise InputError("the file has a header row but no data rows", where=label)
    row_re = re.compile(f"{_NUMBER}(?:,{_NUMBER})*")
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        row = line.split(",")
        if len(row) != len(cells) or not row_re.fullmatch(line):
            _csv_row_error(row, len(cells), f"{label}:{lineno}")
        rows.append(row)
    values = np.array(rows, dtype=np.float64).reshape((len(rows), *per_example))
    return Result(values, tuple(values.shape), values.dtype, None, label, dtype_known=False, fmt="csv")


def _csv_row_error(row: list[str], width: int, where: str) -> None:
    """Point at the first bad cell of a row, or at its end when it is short or long."""
    column = 1
    for cell in row:
        if not _NUMBER_RE.fullmatch(cell):
            raise InputError(f"{cell!r} is not a number", where=f"{where}:{column}",
                             hint="cells are numbers such as 1.5, -2e-05, nan, inf")
        column += len(cell) + 1
    raise InputError(f"{len(row)} cells, but the header has {width}", where=f"{where}:1")


# -- text -------------------------------------------------------------------------------------------------------------

def _read_text(data: bytes, label: str) -> Result:
    text = _decode(data, label)
    if text.strip() == "None":
        return Result(None, None, np.dtype(np.float64), None, label, dtype_known=False, fmt="text")
    tail = _TEXT_TAIL_RE.search(text)
    if not text.startswith("Tensor(") or tail is None:
        raise InputError("expected jaccli's text print 'Tensor(..., shape=(...), dtype=...)' or 'None'",
                         where=f"{label}:1:1")
    if tail.group(2) not in _DTYPES:
        raise _error_at(f"dtype {tail.group(2)!r} is not float16, float32 or float64", label, text, tail.start(2))
    if not re.fullmatch(r"(\d+(, ?\d+)*,?)?", tail.group(1).strip()):
        raise _error_at(f"shape ({tail.group(1)}) is not a tuple of sizes", label, text, tail.start(1))
    shape, dtype = tuple(int(n) for n in re.findall(r"\d+", tail.group(1))), _DTYPES[tail.group(2)]
    values = _text_values(text, len("Tensor("), tail.start(), shape, label)
    return Result(_check_values(values, dtype, label, "values"), shape, dtype, None, label, exact=False, fmt="text")


def _text_values(text: str, start: int, end: int, shape: tuple[int, ...], label: str) -> np.ndarray:
    """The numbers of numpy's print in ``text[start:end]``, with the bracket structure checked against ``shape``."""
    def fail(message: str, offset: int) -> None:
        raise _error_at(message, label, text, offset)

    if math.prod(shape) == 0 and shape:
        if text[start:end].strip() != "[]":
            fail(f"an empty array of shape {shape} prints as []", start)
        return np.zeros(shape)
    counts: list[int] = []  # items seen at each open bracket level
    values: list[float] = []
    done = False
    for match in _TEXT_TOKEN_RE.finditer(text, start, end):
        token, offset = match.group(), match.start()
        if done:
            fail(f"unexpected {token!r} after the end of the array", offset)
        if token == "[":
            if len(counts) == len(shape):
                fail(f"too many nested brackets for shape {shape}", offset)
            if counts:
                counts[-1] += 1
            counts.append(0)
        elif token == "]":
            if not counts or counts[-1] != shape[len(counts) - 1]:
                fail(f"expected {shape[len(counts) - 1] if counts else 0} items here (shape {shape}), "
                     f"found {counts[-1] if counts else 0}", offset)
            counts.pop()
            done = not counts
        elif len(counts) != len(shape) or not _NUMBER_RE.fullmatch(token):
            fail(f"{token!r} is not a number" if _NUMBER_RE.fullmatch(token) is None
                 else f"a number outside the innermost brackets (shape {shape})", offset)
        else:
            values.append(float(token))
            if counts:
                counts[-1] += 1
            done = not shape  # a scalar is one number and nothing else
    if not done:
        fail(f"the array is incomplete (shape {shape})", end)
    return np.array(values, dtype=np.float64).reshape(shape)
