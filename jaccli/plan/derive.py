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

import time
from dataclasses import dataclass
from math import comb

import numpy as np
import sympy

from jaccli.errors import UsageError
from jaccli.expr.field import Piece, Slot, slot_symbol
from jaccli.plan.differentiate import MAX_SYMBOLIC_SECONDS, differentiate
from jaccli.plan.kernel import Kernel
from jaccli.plan.orderings import count_orderings, distinct_orderings
from jaccli.expr.ir import Tape
from jaccli.expr.source import Source

MAX_NESTING_COST = 70_000  # depth**order of nested functions: 40 levels at order 3 plan in ~2 s, 60 in ~8 s
MAX_PARTIALS = 50_000  # distinct symbolic partials per expression; beyond it SymPy time would explode
MAX_PLACEMENTS = 100_000  # orderings of non-zero partials placed into the result (a dense Hessian of 300: 90 000)


@dataclass(frozen=True)
class Placement:
    """Scatter output ``part`` of a kernel: lanes ``lanes`` (None = all) land at flat ``flat`` of one example."""

    part: int
    lanes: np.ndarray | None
    flat: np.ndarray
    mode: str  # 'assign' (first write, unique: keeps -0.0 as TF does), 'add' (unique), 'add_at' (repeats)


@dataclass
class PieceProgram:
    """One template's work: gather ``slots``, run ``kernel``, scatter by ``placements``.

    Templates that read the same slots (the elements of a stack, ``[r*cos(t), r*sin(t)]``) share one kernel, so
    common work (``sin(t)``, ``cos(t)``) is done once: ``placements[i].part`` indexes that shared kernel's outputs.
    """

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
    groups: list[list[PieceProgram]]  # programs sharing one kernel (and so one gather of their slots)
    # Several orders in one plan (``-k 0,1,2``): their per-example results, flattened, are concatenated in this
    # order into one row of shape ``(sum of sizes,)``; ``order`` is then the highest. Empty: one order.
    orders: tuple[int, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        if self.orders:
            return (sum(int(np.prod(self.order_shape(k), dtype=np.int64)) for k in self.orders),)
        return self.order_shape(self.order)

    def order_shape(self, k: int) -> tuple[int, ...]:
        """Per-example shape ``(*T, *S^k)`` of order ``k``."""
        return self.target_shape + self.source.shape * k

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def _watched_slots(piece: Piece, source: Source) -> list[int]:
    maps = [source.map_for(s.leaf) for s in piece.slots]
    return [j for j, (s, m) in enumerate(zip(piece.slots, maps)) if m is not None and bool((m[s.index] >= 0).any())]


def _nesting(e: sympy.Expr, memo: dict) -> int:
    """How many functions and powers are nested in ``e`` (sums and products do not count)."""
    if e in memo:
        return memo[e]
    inner = max((_nesting(a, memo) for a in e.args), default=0)
    memo[e] = inner + (1 if (e.is_Function or e.is_Pow) else 0)
    return memo[e]


def _levels(expr: sympy.Expr, watched: list[int], order: int,
            deadline: float) -> list[list[tuple[tuple[int, ...], sympy.Expr]]]:
    """Non-zero partials of orders 0..``order`` by multiset of slots, each built from its parent one order lower:
    d(ab) = d(d(a)/db). Every order's level is kept, so several orders cost what the highest one costs."""
    level: dict[tuple[int, ...], sympy.Expr] = {(): expr}
    levels = [sorted(level.items())]
    memo: dict = {"deadline": deadline}
    for _ in range(order):
        nxt: dict[tuple[int, ...], sympy.Expr] = {}
        for multiset, e in level.items():
            start = multiset[-1] if multiset else 0
            for j in watched:
                if j < start:
                    continue
                d = differentiate(e, slot_symbol(j), memo)
                if d != 0:
                    nxt[multiset + (j,)] = d
        level = nxt
        levels.append(sorted(level.items()))
    return levels


def _count(m: int, k: int) -> int:
    """Multisets of size k from m slots: the distinct k-th partials of an m-slot template."""
    return comb(m + k - 1, k) if m else int(k == 0)


def derive(tape: Tape, order: int) -> Derivative:
    """Plan the order-``order`` batch Jacobian of ``tape.target`` w.r.t. ``tape.source``: shape ``(*T, *S^k)``.

    Order 0 plans the target's value itself (shape ``T``): ``--verify`` differentiates it numerically.
    """
    return derive_orders(tape, (order,), combined=False)


def derive_orders(tape: Tape, orders: tuple[int, ...], combined: bool = True) -> Derivative:
    """Plan several orders at once (``-k 0,1,2``): one derivative whose per-example result is the flattened
    results of ``orders`` concatenated (``Derivative.orders``). Each template's partials are built once up to the
    highest order, and templates reading the same slots share one kernel across all orders (``sin(x)`` of the
    value, the gradient and the Hessian is computed once)."""
    target, source = tape.target, tape.source
    top = max(orders)
    budget = sum(_count(len(_watched_slots(p, source)), k) for p in target.pieces for k in orders)
    if budget > MAX_PARTIALS:
        raise UsageError(f"order {top} needs up to {budget} distinct symbolic partials (the limit is {MAX_PARTIALS})",
                         hint="lower --order, or reduce over fewer elements inside nonlinear functions")
    result = Derivative(target.shape, source, top, bool(target.connected.any()) or top == 0, [], [],
                        tuple(orders) if combined else ())
    deadline = time.monotonic() + MAX_SYMBOLIC_SECONDS  # for the whole plan, all pieces together
    depths: dict = {}
    for piece in target.pieces:
        depth = _nesting(piece.expr, depths)
        if top >= 2 and depth**top > MAX_NESTING_COST:
            # The k-th derivative of a chain of depth D has ~D**k products of ~D factors (Faa di Bruno).
            raise UsageError(f"the symbolic derivative grows too large: {depth} nested functions at order {top}",
                             hint="lower --order or simplify the expression (deep nesting grows fast with the order)")
    written: set[int] = set()  # flats placed so far: a later placement onto them must add, not assign
    pending, scattered = [], 0
    for piece in target.pieces:
        watched = _watched_slots(piece, source)
        levels = _levels(piece.expr, watched, top if watched else 0, deadline)
        offset = 0
        for k in orders:
            found = levels[k] if k < len(levels) else []
            if found:
                multisets = [m for m, _ in found]
                scattered += sum(count_orderings(m) for m in multisets)
                if scattered > MAX_PLACEMENTS:  # each ordering is placed separately: ~60 us apiece
                    raise UsageError(f"order {k} scatters over {MAX_PLACEMENTS} orderings of non-zero partials "
                                     f"(the limit is {MAX_PLACEMENTS})", hint="lower --order; a dense k-th "
                                     "derivative of n elements has n**k entries")
                pending.append((piece, [e for _, e in found], multisets,
                                _place(piece, multisets, source, k, written, offset)))
            offset += int(np.prod(result.order_shape(k), dtype=np.int64))
    by_slots: dict[tuple, list] = {}
    for entry in pending:
        piece = entry[0]
        key = (len(piece.pos), tuple((slot.leaf, slot.index.tobytes()) for slot in piece.slots))
        by_slots.setdefault(key, []).append(entry)
    for entries in by_slots.values():
        piece = entries[0][0]
        kernel = Kernel([slot_symbol(j) for j in range(len(piece.slots))], [e for x in entries for e in x[1]])
        group, offset = [], 0
        for piece, exprs, multisets, placements in entries:
            shifted = [Placement(p.part + offset, p.lanes, p.flat, p.mode) for p in placements]
            group.append(PieceProgram(piece.slots, kernel, exprs, multisets, shifted, piece, len(piece.pos)))
            offset += len(exprs)
        result.groups.append(group)
        result.programs.extend(group)
    return result


def _place(piece: Piece, multisets: list[tuple[int, ...]], source: Source, order: int,
           written: set[int], offset: int = 0) -> list[Placement]:
    """Where each partial lands: every distinct ordering of its multiset, lanes that read unwatched elements
    dropped; ``written`` (updated) decides whether a placement may assign or must add. ``offset``: where this
    order starts in a several-orders result."""
    n = source.size
    placements = []
    for part, multiset in enumerate(multisets):
        for ordering in distinct_orderings(multiset):
            src = [_source_index(source, piece.slots[j]) for j in ordering]
            flat = offset + piece.pos * n**order
            for step, s in enumerate(src):
                flat = flat + s * n ** (order - 1 - step)
            valid = np.logical_and.reduce([s >= 0 for s in src])
            lanes = None if valid.all() else np.flatnonzero(valid)
            if lanes is not None:
                flat = flat[lanes]
            if len(flat) == 0:
                continue
            values = flat.tolist()
            unique = len(set(values)) == len(values)
            mode = "add_at" if not unique else "assign" if written.isdisjoint(values) else "add"
            written.update(values)
            placements.append(Placement(part, lanes, flat, mode))
    return placements


def _source_index(source: Source, slot: Slot) -> np.ndarray:
    """Per lane, the flat source index the slot reads (-1: an unwatched element)."""
    smap = source.map_for(slot.leaf)
    return smap[slot.index] if smap is not None else np.full(len(slot.index), -1, np.int64)
