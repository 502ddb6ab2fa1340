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

from typing import Callable

import numpy as np

from jaccli.expr.field import Slot, slot_symbol
from jaccli.plan.derive import Derivative, PieceProgram
from jaccli.plan.kernel import Kernel
from jaccli.plan.reduced import Group, Target, make_target

# Per flat position F of the full result: (kept?, reduced flat index, [(vector name, element index), ...]).
Mapping = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, list[tuple[str, np.ndarray]]]]


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
    return Group(tuple((s.leaf, s.index) for s in slots), kernel.program, len(needed), tuple(targets))


def _target(part: int, lanes: np.ndarray | None, index: np.ndarray, weights: list[tuple[str, np.ndarray]],
            written: set[int]) -> Target:
    order = starts = None
    unique = index
    if len(np.unique(index)) != len(index):  # several lanes sum into one value: sort them into runs once
        order = np.argsort(index, kind="stable")
        unique, starts = np.unique(index[order], return_index=True)
    return make_target(part, lanes, tuple(weights), order, starts, unique, written)
