"""``-P/--param NAME=PATH|JSON``: arrays shared by every example (weights, biases, reference points).

A parameter is read whole, once, by the same readers (and with the same checks and error positions) as the batch
input: ``.npy``, ``.json`` (a nested list), ``.csv``/``.tsv`` (a matrix; a file with a single row or a single
column is a vector, as ``numpy.loadtxt`` reads it), or an inline JSON literal (``-P w='[1,2,3]'``). Its whole
shape is the parameter's shape: there is no batch axis. Scalars belong to ``-D``.
"""
from __future__ import annotations

import io
import os

import numpy as np

from jaccli.errors import InputError, UsageError
from jaccli.io.formats import PARAM_EXTENSIONS, PARAM_FORMATS
from jaccli.io.inputs import Batch, read_batch
from jaccli.io.inputs.batch import (NAME_HINT, NONFINITE_HINT, check_dtype, describe_float, format_index,
                                   is_valid_name, value_dtype)
from jaccli.io.inputs.jsonfile import read_json

_CHUNK = 1 << 20
_SCALAR_HINT = "a scalar is a constant: -D NAME=VALUE"


def parse_params(items: tuple[str, ...], *, allow_nonfinite: bool = False) -> dict[str, np.ndarray]:
    """``NAME=PATH`` or ``NAME=JSON`` items -> ``{name: array}`` (float64, or float32 from a float32 ``.npy``)."""
    out: dict[str, np.ndarray] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise UsageError(f"--param {item!r}: expected NAME=PATH or NAME=JSON", hint="e.g. -P W=weights.npy")
        if not is_valid_name(name):
            raise UsageError(f"--param {item!r}: {name!r} is not a valid name", hint=NAME_HINT)
        if name in out:
            raise UsageError(f"--param {name} is given twice", hint="give each -P NAME once")
        out[name] = load_param(name, value, allow_nonfinite)
    return out


def load_param(name: str, value: str, allow_nonfinite: bool = False) -> np.ndarray:
    """One parameter's array from a file path or an inline JSON literal."""
    label = f"--param {name}"
    if _is_number(value):
        raise UsageError(f"{label}: {value!r} is a single number", hint=_SCALAR_HINT)
    if value.startswith("["):
        batch = read_json(None, io.BytesIO(value.encode("utf-8")), label, name, allow_nonfinite)
        return _whole(batch, name, label)
    fmt = os.path.splitext(value)[1].lower().lstrip(".")
    if fmt not in PARAM_FORMATS:
        raise UsageError(f"--param {name}: cannot tell the format of {value!r}",
                         hint=f"a parameter is a {', '.join(PARAM_EXTENSIONS[:-1])} or {PARAM_EXTENSIONS[-1]} file, "
                              "or an inline JSON list like [1, 2]")
    batch = read_batch(value, fmt, single_name=name, allow_nonfinite=allow_nonfinite)
    array = _whole(batch, name, value)
    if fmt in ("csv", "tsv") and array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)  # one row or one column: a vector, as numpy.loadtxt reads it
    return array


def check_param(name: str, value: object, allow_nonfinite: bool = False) -> np.ndarray:
    """An API parameter: a real array of rank >= 1 (the same dtype and finiteness checks as input data)."""
    array = np.asarray(value)
    where = f"parameter '{name}'"
    check_dtype(array.dtype, where)
    if array.ndim == 0:
        raise UsageError(f"{where} is a scalar", hint="pass scalars in constants=")
    array = np.array(array, dtype=value_dtype(array.dtype), order="C")
    bad = ~np.isfinite(array)
    if bad.any() and not allow_nonfinite:
        index = np.unravel_index(int(np.argmax(bad)), array.shape)
        raise InputError(f"{describe_float(float(array[index]))} is not a finite number",
                         where=f"{where} index {format_index(tuple(int(i) for i in index))}", hint=NONFINITE_HINT)
    return array


def _is_number(text: str) -> bool:
    """A value the user meant as a scalar: anything Python's ``float()`` reads, so what ``-D`` reads and also what
    its grammar refuses (``1_000``, ``١``): they are pointed to ``-D``, which says what it takes. Words the error
    only; the value is never read from here."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _whole(batch: Batch, name: str, label: str) -> np.ndarray:
    if len(batch.arrays) != 1 or batch.scalars:
        raise InputError("a parameter file holds one array, this one holds several", where=label,
                         hint="pass each array with its own --param NAME=PATH")
    key = next(iter(batch.arrays))
    return np.concatenate([chunk[key] for chunk in batch.chunks(_CHUNK)])
