"""Shortest round-trip float text for CSV and JSON, fast: orjson's digits in Python's ``repr`` layout.

orjson (Ryu, in Rust) prints the shortest decimal that reads back to the same float64 — or float32, for float32
arrays — about ten times faster than ``repr``. Its layout differs from Python's, which jaccli 1.0 wrote and golden
files hold: ``1e20`` / ``1e-7`` instead of ``1e+20`` / ``1e-07``, positional ``0.00001`` where Python switches to
``1e-05`` (below 1e-4), and ``null`` for nan/inf. The digits are the same, so a few byte-level rewrites give
exactly ``repr(float(str(value)))`` — what 1.0 wrote for float64 and float32 alike.
"""
from __future__ import annotations

import numpy as np
import orjson

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
# At and above these, orjson's layout may differ from Python's (float32 goes scientific from 1e13 or so).
_POSITIONAL_MAX = {np.float64: 1e16, np.float32: np.float32(1e13)}
_PLAIN = {"nan": b"nan", "inf": b"inf", "-inf": b"-inf"}
_QUOTED = {"nan": b'"nan"', "inf": b'"inf"', "-inf": b'"-inf"'}


def _shortest_source(values: np.ndarray) -> np.ndarray:
    """An array orjson formats with the right digits: float64/float32 as they are; float16 via its own digits."""
    if values.dtype in (np.float64, np.float32):
        return np.ascontiguousarray(values)
    bits = values.reshape(-1).view(np.uint16)  # by bit pattern: -0.0 and 0.0 are distinct here
    distinct, where = np.unique(bits, return_inverse=True)
    shadow = np.array([float(str(v)) for v in distinct.view(values.dtype)], dtype=np.float64)  # float16's digits
    return shadow[where.reshape(-1)].reshape(values.shape)


def nested_text(values: np.ndarray, *, quoted_nonfinite: bool) -> bytes:
    """``values`` as nested JSON-style lists without spaces (``[[1.0,2.5],[0.1,1e-05]]``), Python's float layout.

    Non-finite values are ``nan``/``inf``/``-inf``, in double quotes when ``quoted_nonfinite`` (JSON). Values whose
    layout differs between orjson and Python (tiny, huge, non-finite) are formatted apart, so the big buffer is
    never scanned with a regular expression (that cost more than the formatting itself).
    """
    source = _shortest_source(values)
    size = np.abs(source)
    with np.errstate(invalid="ignore"):
        special = ~(size < _POSITIONAL_MAX[source.dtype.type]) | ((size < 1e-4) & (size != 0))
    if not special.any():
        return orjson.dumps(source, option=_OPTIONS)
    masked = source.copy()
    masked[special] = np.nan  # orjson writes it as null: a slot to fill below, in C order
    parts = orjson.dumps(masked, option=_OPTIONS).split(b"null")
    words = _special_words(source[special], _QUOTED if quoted_nonfinite else _PLAIN)
    out = [parts[0]]
    for word, part in zip(words, parts[1:]):
        out.append(word)
        out.append(part)
    return b"".join(out)


def _special_words(values: np.ndarray, nonfinite_words: dict[str, bytes]) -> list[bytes]:
    """The text of tiny, huge and non-finite values (1-D), in order, in Python's own layout: ``repr`` of the
    float64 value (float32: of its shortest float32 digits). Formatted here, not by orjson, whose exponent layout
    changes between versions (``1e13`` in 3.8, ``1e+13`` in 3.13); they are few, so Python's speed is no cost."""
    shortest = str if values.dtype == np.float32 else float
    out = []
    for value in values.tolist() if values.dtype != np.float32 else values:
        if value != value:
            out.append(nonfinite_words["nan"])
        elif value in (np.inf, -np.inf):
            out.append(nonfinite_words["inf" if value > 0 else "-inf"])
        else:
            out.append(repr(float(shortest(value))).encode("ascii"))
    return out


def csv_rows(values: np.ndarray) -> bytes:
    """Rows ``(b, n)`` as CSV lines: comma-separated shortest floats, nan/inf/-inf bare, each line ending in ``\\n``."""
    rows = values.reshape(values.shape[0], int(np.prod(values.shape[1:], dtype=np.int64)))
    if rows.shape[0] == 0:
        return b""
    if rows.shape[1] == 0:
        return b"\n" * rows.shape[0]
    text = nested_text(rows, quoted_nonfinite=False)
    return text[2:-2].replace(b"],[", b"\n") + b"\n"


def json_items(values: np.ndarray) -> bytes:
    """The items of ``values`` (a chunk of examples) as ``json.dumps`` writes list items: ``", "``-separated."""
    text = nested_text(values, quoted_nonfinite=True)[1:-1]
    return text.replace(b",", b", ")
