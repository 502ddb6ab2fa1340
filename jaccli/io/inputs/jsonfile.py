"""JSON input: an array (one example per item) or an object of named arrays and scalars.

A nested list must be rectangular and hold only numbers (``NaN``/``Infinity`` literals are non-finite numbers);
booleans, null, strings and objects inside it are refused with their path (``data.json: at [3][1]``). Hostile
nesting is refused before ``json.loads`` by a linear bracket scan (and ``RecursionError`` is caught as well), so
``[[[[...`` 100 000 deep is an ordinary error, not a crash.
"""
from __future__ import annotations

import dataclasses
import json
import re
from typing import BinaryIO

import numpy as np

from jaccli.errors import InputError
from jaccli.io.inputs.batch import EMPTY_HINT, Batch, batch_from_arrays, check_name, read_all
from jaccli.textkit import (BOM, NotRectangular, decode_utf8, describe_json, item_path, line_column, nested_leaves,
                            plural, unique_keys, unravel)

MAX_DEPTH = 32  # bracket nesting, the outer object included
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRING_OR_BRACKET = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_DEPTH_HINT = f"arrays may have at most {MAX_DEPTH} axes"
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))  # for bytes.translate(None, delete)


def _check_depth(data: bytes, label: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH in linear time, without recursion (brackets in strings ignored)."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return
    steps = np.frombuffer(brackets, dtype=np.uint8)
    depth = np.cumsum(np.where((steps == ord("[")) | (steps == ord("{")), 1, -1), dtype=np.int64)
    if depth.max() <= MAX_DEPTH:
        return
    # Only on failure: walk again to find where the limit is crossed, for the message.
    level, position = 0, 0
    for match in _STRING_OR_BRACKET.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            level += 1
            if level > MAX_DEPTH:
                position = match.start()
                break
        elif token in (b"]", b"}"):
            level -= 1
    line, column = line_column(data, position)
    raise InputError(f"JSON nested more than {MAX_DEPTH} levels deep", where=f"{label}:{line}:{column}",
                     hint=_DEPTH_HINT)


def _to_array(value: list, label: str, prefix: str) -> np.ndarray:
    """A rectangular nested list of numbers as a float64 array; raises with the path of the first bad item.

    The shape comes from the first item at each level (``textkit.nested_leaves``: linear, no recursion; depth
    was already bounded by ``_check_depth``)."""
    try:
        leaves, shape = nested_leaves(value)
    except NotRectangular as exc:
        what = "number" if exc.depth == len(exc.shape) - 1 else "list"
        raise InputError(f"expected a list of {plural(exc.length, what)}, found {describe_json(exc.node)}",
                         where=f"{label}: at {prefix}{item_path(exc.index)}",
                         hint="nested lists must be rectangular: every example has the same shape") from None
    # parse_int=float made every JSON number a float; anything else (bool, null, str, ...) is refused here.
    if set(map(type, leaves)) - {float}:
        i = next(i for i, item in enumerate(leaves) if type(item) is not float)
        hint = "booleans are refused; write 1 or 0" if isinstance(leaves[i], bool) else \
            "every item must be a number (NaN and Infinity count as non-finite numbers)"
        raise InputError(f"expected a number, found {describe_json(leaves[i])}",
                         where=f"{label}: at {prefix}{item_path(unravel(i, shape))}", hint=hint)
    return np.array(leaves, dtype=np.float64).reshape(shape)


def read_json(path: str | None, stream: BinaryIO | None, label: str, single_name: str,
              allow_nonfinite: bool) -> Batch:
    """A JSON array -> one array ``(B, *S)`` named ``single_name``; a JSON object -> named arrays (nested lists,
    sharing B) and scalars (numbers)."""
    data = read_all(path, stream, label).removeprefix(BOM)  # a BOM is not a column of line 1
    _check_depth(data, label)
    text = decode_utf8(data, label, drop_bom=False)  # dropped above, once
    try:
        document = json.loads(text, parse_int=float, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", where=f"{label}:{exc.lineno}:{exc.colno}",
                         hint="check the brackets, commas and quotes near there") from None
    except RecursionError:  # belt and braces: _check_depth should already have refused it
        raise InputError("JSON nested too deeply", where=label, hint=_DEPTH_HINT) from None
    except InputError as exc:  # from unique_keys, which does not know the file name
        raise InputError(exc.message, where=label, hint=exc.hint) from None
    if isinstance(document, list):
        if not document:
            raise InputError("empty input: the JSON array has no examples", where=label, hint=EMPTY_HINT)
        return batch_from_arrays(label, {single_name: _to_array(document, label, "")},
                                 allow_nonfinite=allow_nonfinite)
    if isinstance(document, dict):  # its keys name the arrays: outputs may use the names
        batch = batch_from_arrays(label, _named_arrays(document, label), allow_nonfinite=allow_nonfinite)
        return dataclasses.replace(batch, named=True)
    if type(document) is float:
        raise InputError("the JSON input is a single number but needs a batch axis", where=label,
                         hint="give a list with one item per example")
    raise InputError(f"the JSON input is {describe_json(document)}", where=label,
                     hint="give an array (one item per example) or an object of named arrays")


def _named_arrays(document: dict[str, object], label: str) -> dict[str, object]:
    """The members of a JSON object: nested lists -> arrays, numbers -> scalars (0-d)."""
    if not document:
        raise InputError("empty input: the JSON object has no arrays", where=label,
                         hint='give named arrays with one item per example, e.g. {"x": [[1, 2], [3, 4]]}')
    arrays: dict[str, object] = {}
    for key, value in document.items():
        check_name(key, "array name", where=label)
        prefix = "[" + json.dumps(key) + "]"
        if type(value) is float:
            arrays[key] = np.float64(value)
        elif type(value) is list:
            if not value:
                raise InputError(f"empty input: array {key!r} has no examples", where=label, hint=EMPTY_HINT)
            arrays[key] = _to_array(value, label, prefix)
        else:
            raise InputError(f"expected a number or a list, found {describe_json(value)}",
                             where=f"{label}: at {prefix}", hint="each member is a nested list or a number")
    return arrays
