"""Tape -> derivative plan: SymPy partials of each lane template, and where every lane's value lands.

For a piece with template ``e(s0..s{m-1})`` the order-k derivative of the target is, by the chain rule through
the gathers that feed the slots,

    d^k y[pos[l]] / dx[i1]..dx[ik]  +=  (d^k e / ds_a1..ds_ak)(lane l)   for every slot tuple (a1..ak)
                                                                          with index_aj[l] = ij

so we differentiate each *multiset* of watched slots once (Schwarz symmetry), evaluate it for all lanes at once,
and scatter it to every distinct ordering. An elementwise expression has one slot: k SymPy derivatives in total,
whatever the number of features, placed on the diagonal. Zero partials are known symbolically and skipped, so
zero blocks are never evaluated. Aliasing (``x * x[::-1]`` meeting in the middle) needs no special case: the
scatter *adds*, which is exactly the chain rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations_with_replacement, permutations
from typing import Optional

import numpy as np
import sympy

from .errors import UsageError
from .field import Piece, Slot, slot_symbol
from .kernel import Kernel, compile_kernel
from .tape import Source, Tape

MAX_PARTIALS = 50_000  # distinct symbolic partials per expression; beyond it SymPy time would explode


@dataclass(frozen=True)
class Placement:
    """Scatter output ``part`` of a kernel: lanes ``lanes`` (None = all) land at flat ``flat`` of one example."""

    part: int
    lanes: Optional[np.ndarray]
    flat: np.ndarray
    mode: str  # 'assign' (first write, unique: keeps -0.0 as TF does), 'add' (unique), 'add_at' (repeats)


@dataclass
class PieceProgram:
    """One template's work: gather ``slots``, run ``kernel``, scatter by ``placements``."""

    slots: tuple[Slot, ...]
    kernel: Kernel
    partials: list[sympy.Expr]  # what the kernel computes, with the multiset of slots each one differentiates
    multisets: list[tuple[int, ...]]
    placements: list[Placement]
    piece: Piece
    lanes: int


@dataclass
class Derivative:
    """The order-k derivative of a tape's target as a plan. Per example the result has shape ``(*T, *S^k)``."""

    target_shape: tuple[int, ...]
    source: Source
    order: int
    connected: bool
    programs: list[PieceProgram]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.target_shape + self.source.shape * self.order

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def _watched_slots(piece: Piece, source: Source) -> list[int]:
    return [j for j, s in enumerate(piece.slots) if s.leaf == source.leaf and bool((source.smap[s.index] >= 0).any())]


def _partials(expr: sympy.Expr, watched: list[int], order: int) -> list[tuple[tuple[int, ...], sympy.Expr]]:
    """Non-zero k-th partials by multiset of slots, each built from its (k-1)-th parent: d(ab) = d(d(a)/db)."""
    level: dict[tuple[int, ...], sympy.Expr] = {(): expr}
    for _ in range(order):
        nxt: dict[tuple[int, ...], sympy.Expr] = {}
        for multiset, e in level.items():
            start = multiset[-1] if multiset else 0
            for j in watched:
                if j < start:
                    continue
                d = sympy.diff(e, slot_symbol(j))
                if d != 0:
                    nxt[multiset + (j,)] = d
        level = nxt
    return sorted(level.items())


def _count(m: int, k: int) -> int:
    from math import comb
    return comb(m + k - 1, k)


def derive(tape: Tape, order: int) -> Derivative:
    """Plan the order-``order`` batch Jacobian of ``tape.target`` w.r.t. ``tape.source``: shape ``(*T, *S^k)``."""
    target, source = tape.target, tape.source
    n = source.size
    budget = sum(_count(len(_watched_slots(p, source)), order) for p in target.pieces)
    if budget > MAX_PARTIALS:
        raise UsageError(f"order {order} needs up to {budget} distinct symbolic partials (the limit is {MAX_PARTIALS})",
                         hint="lower --order, or reduce over fewer elements inside nonlinear functions")
    result = Derivative(target.shape, source, order, bool(target.connected.any()), [])
    written = np.zeros(int(np.prod(target.shape, dtype=np.int64)) * n**order, bool)
    for piece in target.pieces:
        watched = _watched_slots(piece, source)
        found = _partials(piece.expr, watched, order) if watched else []
        if not found:
            continue
        multisets = [m for m, _ in found]
        exprs = [e for _, e in found]
        symbols = [slot_symbol(j) for j in range(len(piece.slots))]
        placements = []
        for part, multiset in enumerate(multisets):
            for ordering in sorted(set(permutations(multiset))):
                src = [source.smap[piece.slots[j].index] for j in ordering]
                flat = piece.pos * n**order
                for step, s in enumerate(src):
                    flat = flat + s * n ** (order - 1 - step)
                valid = np.logical_and.reduce([s >= 0 for s in src])
                lanes = None if valid.all() else np.flatnonzero(valid)
                if lanes is not None:
                    flat = flat[lanes]
                if len(flat) == 0:
                    continue
                unique = len(np.unique(flat)) == len(flat)
                mode = "add_at" if not unique else "add" if written[flat].any() else "assign"
                written[flat] = True
                placements.append(Placement(part, lanes, flat, mode))
        kernel = compile_kernel(symbols, exprs)
        result.programs.append(PieceProgram(piece.slots, kernel, exprs, multisets, placements, piece, len(piece.pos)))
    return result
