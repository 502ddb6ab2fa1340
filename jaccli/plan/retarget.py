"""Linear reductions of a derivative plan, computed from its placements instead of from the full tensor.

A derivative plan writes each lane of each symbolic partial to one flat position ``F`` of an example's result
``(*T, *S^k)`` (``derive.Placement``). Every linear functional of that result -- a trace, a diagonal, a product
with a vector -- only needs to know, per position, where it goes in the smaller result and with which weight::

    trace (order 2):  F = (t, a, c)  ->  r = t        if a == c, else the lane is not needed at all
    jvp:              F = (p, s)     ->  r = p,        weight v[s]
    vjp:              F = (t, q)     ->  r = q,        weight u[t]

so ``retarget`` maps the placements once, at plan time, drops the lanes that land nowhere (and the partials no
kept lane needs), and rebuilds each kernel over the kept lanes only. The Laplacian of ``sum(f(x))`` then
evaluates ``n`` second derivatives per example, never the ``n*n`` Hessian; ``diag`` of an elementwise map is its
``n`` derivatives.

Summation order is fixed per example (lanes sorted once, segment sums along one row), so every chunking gives the
same bits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from jaccli.expr.field import Slot, slot_symbol
from jaccli.plan.derive import Derivative, PieceProgram
from jaccli.plan.compiled import _gather
from jaccli.plan.kernel import Kernel
from jaccli.plan.rescue import rescue

# Per flat position F of the full result: (kept?, reduced flat index, [(vector name, element index), ...]).
Mapping = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, list[tuple[str, np.ndarray]]]]


@dataclass(frozen=True)
class Target:
    """One re-targeted placement: kernel output ``part``, its lanes ``lanes`` (None = all) summed into ``index``.

    ``order``/``starts`` sort the lanes by reduced index and cut them into runs (None when every index is
    distinct); ``unique`` is then the index of each run. ``weights`` multiply each lane by a vector element.
    """

    part: int
    lanes: np.ndarray | None
    weights: tuple[tuple[str, np.ndarray], ...]
    order: np.ndarray | None
    starts: np.ndarray | None
    unique: np.ndarray
    mode: str  # as derive.Placement: 'assign' on a first write, else 'add' (indices in ``unique`` are distinct)
    in_order: bool  # ``unique`` is 0, 1, 2, ...: a whole result written in order (a diagonal, a jvp) is one copy


@dataclass(frozen=True)
class Group:
    """A kernel over the kept lanes of programs that read the same slots, and where its outputs go."""

    slots: tuple[Slot, ...]
    kernel: Kernel
    lanes: int
    targets: tuple[Target, ...]

    @property
    def work(self) -> int:
        return self.lanes * (len(self.kernel.program) + len(self.slots) + 1)


def retarget(derivative: Derivative, mapping: Mapping) -> list[Group]:
    """The groups of ``derivative`` re-targeted by ``mapping``; groups and partials that land nowhere vanish."""
    groups = []
    written: set[int] = set()
    for programs in derivative.groups:
        group = _retarget_group(programs, mapping, written)
        if group is not None:
            groups.append(group)
    return groups


def _retarget_group(programs: list[PieceProgram], mapping: Mapping, written: set[int]) -> Group | None:
    head = programs[0]
    partials = [e for prog in programs for e in prog.partials]  # the shared kernel's outputs, in order
    kept = []  # (part, lanes kept, reduced index, weights)
    for prog in programs:
        for pl in prog.placements:
            keep, index, weights = mapping(pl.flat)
            if not keep.any():
                continue
            lanes = (np.arange(head.lanes, dtype=np.int64) if pl.lanes is None else pl.lanes)[keep]
            kept.append((pl.part, lanes, index[keep], [(name, w[keep]) for name, w in weights]))
    if not kept:
        return None
    needed = np.unique(np.concatenate([lanes for _, lanes, _, _ in kept]))
    parts = sorted({part for part, _, _, _ in kept})
    renumber = {part: i for i, part in enumerate(parts)}
    kernel = Kernel([slot_symbol(j) for j in range(len(head.slots))], [partials[p] for p in parts])
    every = len(needed) == head.lanes
    slots = head.slots if every else tuple(Slot(s.leaf, s.index[needed]) for s in head.slots)
    targets = []
    for part, lanes, index, weights in kept:
        position = np.searchsorted(needed, lanes)
        whole = len(position) == len(needed) and bool((position == np.arange(len(needed))).all())
        targets.append(_target(renumber[part], None if whole else position, index, weights, written))
    return Group(slots, kernel, len(needed), tuple(targets))


def _target(part: int, lanes: np.ndarray | None, index: np.ndarray, weights: list[tuple[str, np.ndarray]],
            written: set[int]) -> Target:
    order = starts = None
    unique = index
    if len(np.unique(index)) != len(index):  # several lanes sum into one value: sort them into runs once
        order = np.argsort(index, kind="stable")
        unique, starts = np.unique(index[order], return_index=True)
    values = unique.tolist()
    mode = "assign" if written.isdisjoint(values) else "add"
    written.update(values)
    in_order = bool((unique == np.arange(len(unique))).all())
    return Target(part, lanes, tuple(weights), order, starts, unique, mode, in_order)


def evaluate_groups(groups: list[Group], flats: dict[str, np.ndarray], out: np.ndarray) -> None:
    """Add every group's contribution into ``out`` ``(b, R)`` (zero-filled)."""
    b = out.shape[0]
    for group in groups:
        inputs = [_gather(flats[s.leaf], s.index) for s in group.slots]
        parts = rescue(group.kernel, inputs, group.kernel(inputs), out.dtype)  # as the engine: finite where true
        for t in group.targets:
            value = np.broadcast_to(np.asarray(parts[t.part], dtype=out.dtype), (b, group.lanes))
            if t.lanes is not None:
                value = value[:, t.lanes]
            for name, element in t.weights:
                value = value * _gather(flats[name], element)  # the vector read like a slot: no copy when in order
            if t.order is not None:
                assert t.starts is not None
                value = np.add.reduceat(value[:, t.order], t.starts, axis=1)
            if t.in_order and len(t.unique) == out.shape[1]:
                if t.mode == "assign":
                    out[:] = value
                else:
                    out += value
            else:
                _scatter(out, t.unique, np.ascontiguousarray(value), t.mode)


def _scatter(out: np.ndarray, flat: np.ndarray, value: np.ndarray, mode: str) -> None:
    """``out[:, flat] (+)= value`` for ``out (b, n)``, ``value (b, L)``.

    NumPy's 2-D fancy assignment is slow into a view of a big array (seconds for a few thousand values), so
    few columns are written one strided column at a time and many through flat indices with ``np.put``.
    """
    if mode != "add_at" and len(flat) <= 16:
        for j, f in enumerate(flat.tolist()):
            if mode == "assign":
                out[:, f] = value[:, j]
            else:
                with np.errstate(invalid="ignore"):  # inf + -inf is nan, as IEEE says; no warning on stderr
                    out[:, f] += value[:, j]
        return
    b, n = out.shape
    index = (np.arange(b, dtype=np.int64)[:, None] * n + flat).ravel()
    whole = out.reshape(-1)
    if mode == "assign":
        np.put(whole, index, value)
    elif mode == "add":
        np.put(whole, index, np.take(whole, index) + value.reshape(-1))
    else:  # repeated indices: accumulate in order, deterministically
        np.add.at(whole, index, np.ascontiguousarray(value).reshape(-1))
