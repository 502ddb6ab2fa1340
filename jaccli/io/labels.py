"""Names for a result's axes (JSON ``layout``) and entries (CSV header, ``--expect`` reports).

Two styles. ``index`` is jaccli 1.0's: CSV cells ``J[0][1]``, axes ``batch``, ``target.0``, ``x.0:d1``. ``names``
uses what the input calls things: CSV cells ``d y[0]/d r`` (order 2: ``d2 y[0]/d r d theta``; order 0, the value:
``y[0]``), and a source axis whose elements are named lists them: ``x.0:d1[r,theta]``. ``--header auto`` (the
default) is ``names`` exactly when the input names its columns or arrays (a CSV header, ``--columns``, NPZ members,
a JSON object), so files without names keep their 1.0 bytes.

``source_elements`` is the one place that says what each element of the source is called (extend it for new kinds
of source); everything else is spelled from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from jaccli.plan.engine import Plan

HEADER_STYLES = ("auto", "names", "index")


def _bracketed(index: Sequence[int]) -> str:
    return "".join(f"[{i}]" for i in index)


def index_header(shape: Sequence[int]) -> list[str]:
    """jaccli 1.0's csv header for a per-example shape: ``J[0][0], J[0][1], ...`` (``J`` for a scalar)."""
    return ["J" + _bracketed(index) for index in product(*map(range, shape))] if shape else ["J"]


def csv_header_line(cells: Sequence[str] | None, shape: Sequence[int]) -> bytes:
    """The csv header row of a per-example ``shape``: ``cells`` (default ``index_header``), RFC 4180-quoted where a
    cell needs it, UTF-8 (column names may be any identifier)."""
    cells = index_header(shape) if cells is None else cells
    size = int(np.prod(shape, dtype=np.int64))
    if len(cells) != size:  # a bug, not a user error: the cells are made from the same shape
        raise ValueError(f"{len(cells)} header cells for {size} values per example")
    quoted = ['"' + c.replace('"', '""') + '"' if any(ch in c for ch in ',"\r\n') else c for c in cells]
    return (",".join(quoted) + "\n").encode("utf-8")


def source_elements(plan: "Plan") -> list[str]:
    """The source's elements in C order: a CSV column alias (``r``), else ``leaf[i][j]``, or the bare name of a
    0-d source (``theta`` for ``--wrt theta``); several sources (``--wrt a,b``) list each one's in turn."""
    source, scope = plan.derivative.source, plan.scope
    if source.segments:
        return [seg.name + _bracketed(index) for seg in source.segments
                for index in product(*map(range, seg.shape))]
    if not source.shape:
        return [source.name]
    # A whole array is watched (smap is the identity), so its flat element i is the leaf's element i.
    aliases = {(leaf, int(i)): alias for alias, (leaf, i) in scope.columns.items()}
    return [aliases.get((source.leaf, flat), f"{source.name}{_bracketed(index)}")
            for flat, index in enumerate(product(*map(range, source.shape)))]


def _target_name(plan: "Plan") -> str:
    used = set(plan.scope.names())
    return next(n for n in ("y", "f", "out", "target_") if n not in used)


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
            return "J" + _bracketed(index)
        t = len(self.target_shape)
        y = self.target + _bracketed(index[:t])
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

    def csv_header(self) -> list[str]:
        """The CSV header cells, one per entry of an example in C order."""
        shape = self.target_shape + self.source_shape * self.order
        if not self.named:
            return index_header(self.example_shape)
        return [self.entry(index) for index in product(*map(range, shape))]


def labels_for(plan: "Plan", style: str, input_named: bool) -> Labels:
    """The labels of ``plan``'s result; ``style`` is one of ``HEADER_STYLES``, ``input_named`` whether the input
    named its columns or arrays (what ``auto`` follows). A plan of order 0 (the value) names ``y[0]``."""
    d = plan.derivative
    elements = tuple(source_elements(plan))
    aliased = any(alias for alias, (leaf, _) in plan.scope.columns.items() if leaf == d.source.leaf)
    named = style == "names" or (style == "auto" and input_named)
    aliased = aliased and not d.source.segments  # several sources: the layout already names each segment
    if tuple(plan.example_shape) != tuple(d.shape):
        named = False  # a reduced result (--reduce, --jvp, --vjp): its axes and header are its own (plan.reduce)
    return Labels(tuple(d.target_shape), tuple(d.source.shape), d.order, tuple(plan.layout()),
                  tuple(plan.example_shape), _target_name(plan), elements, named, aliased)
