"""Results of several orders (``-k 0,1,2``) read back, and compared order by order.

``read_orders(path)`` gives ``{k: Result}`` for a file holding several orders -- an ``.npz`` (members
``order0``, ``order1``, ...) or a several-orders JSON document (``{"orders": [...], "order0": {...}, ...}``) -- and
``{None: Result}`` for any one-result file (``read_result``: the order is not known there). ``compare_orders``
compares two such dicts: the same orders must be present, each order is compared with ``compare``; its outcome
is an ``OrdersComparison`` (or, for one result each, the ``Comparison``).
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field

from jaccli.checks.compare import Comparison, Mismatch, compare
from jaccli.checks.results import Result, _read_json, _read_npy, load_json, parse_result, read_bytes, read_result
from jaccli.errors import InputError
from jaccli.io.formats import SEVERAL_RESULT_FORMATS
from jaccli.io.inputs.compression import ZIP_MAGIC
from jaccli.textkit import label_for, text_start

Orders = dict[int | None, Result]
_MEMBER = re.compile(r"order([0-9]+)\.npy")  # ASCII digits: textkit
_MEMBERS_HINT = "jaccli's .npz holds members order0.npy, order1.npy, ..."
_SEVERAL_JSON = re.compile(rb'\{\s*"orders"\s*:')


def read_orders(path: str, fmt: str = "auto") -> Orders:
    """Every result a file holds, by order (``None``: a one-result file that does not say its order)."""
    if fmt not in ("auto", *SEVERAL_RESULT_FORMATS):
        return {None: read_result(path, fmt)}
    label = label_for(path)
    try:
        data = read_bytes(path)
    except OSError:
        return {None: read_result(path, fmt)}  # read_result words the error
    if fmt == "npz" or (fmt == "auto" and (data.startswith(ZIP_MAGIC) or label.lower().endswith(".npz"))):
        return _read_npz(data, label)
    if _SEVERAL_JSON.match(text_start(data[:4096])):
        return _read_json_orders(data, label)
    return {None: parse_result(data, label, fmt)}


def _read_npz(data: bytes, label: str) -> Orders:
    """Members ``order{k}.npy`` of a ``-f npz`` file, each read by the strict ``.npy`` reader."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"not a readable .npz file: {exc}", where=label,
                         hint="the file is damaged or not a .npz; write it again with jaccli ... -f npz") from None
    out: Orders = {}
    with archive:
        for info in archive.infolist():
            match = _MEMBER.fullmatch(info.filename)
            if not match:
                raise InputError(f"unexpected member {info.filename!r}", where=label,
                                 hint=_MEMBERS_HINT)
            out[int(match[1])] = _read_npy(archive.read(info), f"{label}: {info.filename}")
    if not out:
        raise InputError("the .npz file holds no results", where=label,
                         hint=_MEMBERS_HINT)
    return dict(sorted(out.items()))


def _read_json_orders(data: bytes, label: str) -> Orders:
    """A several-orders JSON document: each ``order{k}`` value is read (strictly) as a one-order document."""
    obj = load_json(data, label)
    found = obj.get("orders") if isinstance(obj, dict) else None
    orders: list[int] = found if isinstance(found, list) else []
    valid = isinstance(found, list) and all(isinstance(k, int) and not isinstance(k, bool) and k >= 0
                                            for k in orders)
    if not valid or set(obj) != {"orders", "dtype"} | {f"order{k}" for k in orders}:
        raise InputError("a several-orders JSON document has the keys orders, dtype and order{k} for each k",
                         where=label, hint='e.g. {"orders": [0, 1], "dtype": "float64", "order0": {...}, '
                                           '"order1": {...}}')
    return {k: _read_json(json.dumps(obj[f"order{k}"]).encode(), f"{label}: order{k}") for k in orders}


def pick(found: Orders, order: int, path: str) -> Result:
    """The result of ``order`` from a file: its one result, or the member of that order."""
    if len(found) == 1 and None in found:
        return found[None]
    if order not in found:
        raise InputError(f"holds orders {_orders(found)}, not order {order}", where=path,
                         hint="compare with a golden file of the same order")
    return found[order]


@dataclass
class OrdersComparison(Mismatch):
    """The ``Outcome`` of ``compare_orders`` for several orders: each order's ``Comparison``, or why the two files'
    orders cannot be paired (``problem``)."""

    by_order: dict[int | None, Comparison] = field(default_factory=dict)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem and all(c.ok for c in self.by_order.values())

    def summary(self) -> str:
        if self.problem:
            return self.problem
        return "\n".join(f"order {k}: " + c.summary().replace("\n", "\n  ") for k, c in self.by_order.items())


def compare_orders(golden: Orders, actual: Orders, rtol: float | None, atol: float | None, *,
                   names: tuple[str, str] | None = None) -> Comparison | OrdersComparison:
    """Order by order. A file of one result matches the same order of the other when the other holds one result
    too (its order is not recorded). ``names`` (golden, actual) word the failure, as for ``compare``."""
    if len(golden) == 1 and len(actual) == 1 and (None in golden or None in actual):
        return compare(next(iter(golden.values())), next(iter(actual.values())), rtol=rtol, atol=atol, names=names)
    names = names or ("the golden file", "the result")
    computed = any(r.fmt == "memory" for r in actual.values())
    if set(golden) != set(actual):
        return OrdersComparison(names=names, computed=computed,
                                problem=f"orders differ: expected {_orders(golden)}, actual {_orders(actual)}")
    by_order = {k: compare(golden[k], actual[k], rtol=rtol, atol=atol) for k in golden}
    return OrdersComparison(names=names, computed=computed, by_order=by_order)


def _orders(found: Orders) -> str:
    return ", ".join("?" if k is None else str(k) for k in found) or "none"

