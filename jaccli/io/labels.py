"""Names for a result's axes (JSON ``layout``) and entries (CSV header, ``--expect`` summaries).

Two styles. ``index`` is jaccli 1.0's: CSV cells ``J[0][1]``, axes ``batch``, ``target.0``, ``x.0:d1``. ``names``
uses what the input calls things: CSV cells ``d y[0]/d r`` (order 2: ``d2 y[0]/d r d theta``; order 0, the value:
``y[0]``), and a source axis whose elements are named lists them: ``x.0:d1[r,theta]``. ``--header auto`` (the
default) is ``names`` exactly when the input names its columns or arrays (a CSV header, ``--columns``, NPZ members,
a JSON object), so files without names keep their 1.0 bytes.

``source_elements`` is the one place that says what each element of the source is called (extend it for new kinds
of source); everything else is spelled from it. It reads the input's names, not the plan, so a plan loaded from
the plan cache (no SymPy, no symbolic half) is labelled exactly like a fresh one.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from jaccli.textkit import item_path

if TYPE_CHECKING:
    from jaccli.io.inputs.batch import Batch
    from jaccli.plan.engine import AnyPlan


def index_header(shape: Sequence[int]) -> list[str]:
    """jaccli 1.0's csv header for a per-example shape: ``J[0][0], J[0][1], ...`` (``J`` for a scalar)."""
    return ["J" + item_path(index) for index in product(*map(range, shape))] if shape else ["J"]


def csv_header_line(cells: Sequence[str] | None, shape: Sequence[int]) -> bytes:
    """The csv header row of a per-example ``shape``: ``cells`` (default ``index_header``), RFC 4180-quoted where a
    cell needs it, UTF-8 (column names may be any identifier)."""
    cells = index_header(shape) if cells is None else cells
    size = int(np.prod(shape, dtype=np.int64))
    if len(cells) != size:  # a bug, not a user error: the cells are made from the same shape
        raise ValueError(f"{len(cells)} header cells for {size} values per example")
    quoted = ['"' + c.replace('"', '""') + '"' if any(ch in c for ch in ',"\r\n') else c for c in cells]
    return (",".join(quoted) + "\n").encode("utf-8")


def source_elements(wrt: str, batch: "Batch") -> list[str]:
    """The source's elements in C order, from what the input calls things (no plan needed, so a plan loaded from
    the cache is named like a fresh one): a CSV column (``theta`` for ``--wrt theta``), the row's columns
    (``r``, ``theta``), else ``name[i][j]`` (``name`` for a 0-d array); ``--wrt a,b`` lists each source's in turn."""
    columns = batch.columns or []
    names: list[str] = []
    for source in (w.strip() for w in wrt.split(",")):
        if source in batch.arrays:
            shape = batch.arrays[source].event_shape
            if columns and len(shape) == 1 and shape[0] == len(columns):  # the row of a CSV file: its columns
                names += columns
            else:
                names += [source + item_path(index) for index in product(*map(range, shape))]
        else:
            names.append(source)  # a column of the row (a 0-d source)
    return names


@dataclass(frozen=True)
class Labels:
    """How one result names its axes and per-example entries; ``named`` picks the style."""

    target_shape: tuple[int, ...]
    source_shape: tuple[int, ...]
    order: int
    index_axes: tuple[str, ...]  # the plan's own layout (jaccli 1.0's names; several sources name their segments)
    example_shape: tuple[int, ...]  # the per-example result shape (a --reduce/--jvp/--vjp result has its own)
    target: str  # what the target is called in entry names ('y')
    elements: tuple[str, ...]  # the source's elements in C order
    named: bool
    aliased: bool  # some source element has a name of its own (a CSV column)

    def axes(self) -> list[str]:
        """The JSON ``layout``: one name per axis of ``(B, *T, *S^k)``."""
        names = list(self.index_axes)
        if self.named and self.aliased and len(self.source_shape) == 1:  # a row of named columns
            suffix = "[" + ",".join(self.elements) + "]"
            names = names[:len(names) - self.order] + [name + suffix for name in names[len(names) - self.order:]]
        return names

    def entry(self, index: Sequence[int]) -> str:
        """One per-example entry ``(*T, *S^k)``: ``d y[0]/d r`` (names) or ``J[0][1]`` (index)."""
        if not self.named:
            return "J" + item_path(index)
        t = len(self.target_shape)
        y = self.target + item_path(index[:t])
        if self.order == 0:
            return y
        width, rest = len(self.source_shape), list(index[t:])
        parts = []
        for k in range(self.order):
            flat = 0
            for i, n in zip(rest[k * width:(k + 1) * width], self.source_shape):
                flat = flat * n + int(i)
            parts.append("d " + self.elements[flat])
        d = "d" if self.order == 1 else f"d{self.order}"
        return f"{d} {y}/" + " ".join(parts)

    def comparison_names(self) -> tuple[list[str], Callable[[Sequence[int]], str] | None]:
        """What ``Comparison.summary`` takes: axis names, and entry names when the input gave names."""
        return self.axes(), self.entry if self.named else None

    def csv_header(self) -> list[str]:
        """The CSV header cells, one per entry of an example in C order."""
        shape = self.target_shape + self.source_shape * self.order
        if not self.named:
            return index_header(self.example_shape)
        return [self.entry(index) for index in product(*map(range, shape))]


def _taken(batch: "Batch") -> set[str]:
    return set(batch.arrays) | set(batch.columns or []) | set(batch.scalars)


def _shapes(plan: "AnyPlan") -> tuple[tuple[int, ...], tuple[int, ...], int, bool]:
    """(T, S, k, reduced) of a fresh plan or of one loaded from the plan cache (which keeps no symbolic half)."""
    derivative = getattr(plan, "derivative", None)
    if derivative is not None:
        reduced = tuple(plan.example_shape) != tuple(derivative.shape)  # --reduce, --jvp, --vjp
        return tuple(derivative.target_shape), tuple(derivative.source.shape), derivative.order, reduced
    source = getattr(plan, "source_shape", None)  # a reduced plan from the plan cache (plan/reduced.py)
    if source is not None:
        return tuple(plan.target_shape), tuple(source), plan.order, True  # type: ignore[union-attr]
    target, order = tuple(plan.target_shape), plan.order  # type: ignore[union-attr]
    rest = tuple(plan.example_shape)[len(target):]
    return target, rest[:len(rest) // order] if order else (), order, False


def labels_for(plan: "AnyPlan", style: str, batch: "Batch", wrt: str) -> Labels:
    """The labels of ``plan``'s result for ``--header style`` (one of ``io/formats.HEADER_STYLES``); ``auto`` follows whether
    ``batch`` names its columns or arrays. A plan of order 0 (the value) names ``y[0]``."""
    target, source, order, reduced = _shapes(plan)
    elements = tuple(source_elements(wrt, batch))
    named = style == "names" or (style == "auto" and (batch.columns is not None or batch.named))
    if reduced or len(elements) != int(np.prod(source, dtype=np.int64)):
        named = False  # a reduced result has axes of its own (plan.reduce); the index form is always right
    aliased = bool(batch.columns) and wrt.strip() in batch.arrays and len(source) == 1
    y = next(n for n in ("y", "f", "out", "target_") if n not in _taken(batch))  # never an input's name
    return Labels(target, source, order, tuple(plan.layout()), tuple(plan.example_shape), y, elements, named,
                  aliased)
