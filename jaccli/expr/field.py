"""Shaped per-example values as *lane templates*: the structure that keeps derivatives cheap.

A ``Field`` is one example's value of shape ``V`` (the event shape), stored as a few ``Piece`` s. A piece is a
single SymPy *template* over slot symbols ``s0..s{m-1}`` plus, per lane ``l``, where the lane lands (``pos[l]``,
a flat C-order position in ``V``) and which input element feeds each slot (``slots[j].index[l]``)::

    sin(x) * exp(-x**2)  on x of shape (600,)
    -> 1 piece: template sin(s0)*exp(-s0**2), 600 lanes, pos = 0..599, s0 <- x[0..599]

so a derivative is taken *once* per template and placed on all lanes, never once per element. The value at a
position is the **sum** of all lanes that land there (positions without a lane are 0): sums, means and dot
products just redirect lanes (``reduce_sum``) and stay as cheap as elementwise code. Nonlinear operations first
``compact`` a field (one lane per position), folding summed lanes into one many-slot template.

``connected`` is TensorFlow's notion of the target *referencing* the source, tracked syntactically per position
(``x*0`` is connected, with a zero derivative; a target that never reads the source is unconnected: None).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import numpy as np
import sympy

Template = Callable[..., sympy.Expr]


@lru_cache(maxsize=None)
def slot_symbol(i: int) -> sympy.Symbol:
    return sympy.Symbol(f"s{i}")


@dataclass(frozen=True)
class Slot:
    leaf: str  # name of the input array (or scalar constant) the slot reads
    index: np.ndarray  # (L,) int64: flat element of the leaf's event shape, per lane


@dataclass(frozen=True)
class Piece:
    expr: sympy.Expr  # template over slot_symbol(0..len(slots)-1)
    pos: np.ndarray  # (L,) int64 flat positions in the field's shape; repeats are summed
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class Field:
    shape: tuple[int, ...]
    pieces: tuple[Piece, ...]
    connected: np.ndarray  # bool, shape == self.shape

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def _arange(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)


def tidy(expr: sympy.Expr, pos: np.ndarray, slots: Sequence[Slot]) -> Piece:
    """Merge slots that read the same elements on every lane (``x*x`` -> ``s0**2``), drop unused ones, renumber."""
    used = expr.free_symbols
    keep: dict[tuple, int] = {}
    new_slots: list[Slot] = []
    mapping = {}
    for j, slot in enumerate(slots):
        sym = slot_symbol(j)
        if sym not in used:
            continue
        key = (slot.leaf, slot.index.tobytes())
        if key not in keep:
            keep[key] = len(new_slots)
            new_slots.append(slot)
        mapping[sym] = slot_symbol(keep[key])
    if any(k != v for k, v in mapping.items()):
        expr = expr.xreplace(mapping)
    return Piece(expr, pos, tuple(new_slots))


def shifted(piece: Piece, offset: int) -> sympy.Expr:
    """The piece's template with its slot symbols renumbered to start at ``offset``."""
    if offset == 0 or not piece.slots:
        return piece.expr
    return piece.expr.xreplace({slot_symbol(j): slot_symbol(j + offset) for j in range(len(piece.slots))})


def joined(parts: Iterable[tuple[Piece, np.ndarray | slice]]) -> tuple[list[sympy.Expr], list[Slot]]:
    """Several pieces' templates side by side, for one new template over all their slots: each template renumbered
    after the slots before it, each slot restricted to ``lanes`` (the lanes of that piece the new template reads)."""
    templates: list[sympy.Expr] = []
    slots: list[Slot] = []
    for piece, lanes in parts:
        templates.append(shifted(piece, len(slots)))
        slots += [Slot(s.leaf, s.index[lanes]) for s in piece.slots]
    return templates, slots


# --- construction ----------------------------------------------------------------------------------------
def constant(expr: sympy.Expr) -> Field:
    return Field((), (Piece(sympy.sympify(expr), _arange(1), ()),), np.zeros((), bool))


def leaf(name: str, shape: tuple[int, ...], watched: np.ndarray) -> Field:
    """An input array of event shape ``shape``; ``watched`` marks the elements that are (part of) the source."""
    n = int(np.prod(shape, dtype=np.int64))
    piece = Piece(slot_symbol(0), _arange(n), (Slot(name, _arange(n)),))
    return Field(tuple(shape), (piece,), np.asarray(watched, bool).reshape(shape))


# --- moving lanes around (no SymPy work) -------------------------------------------------------------------
def gather(f: Field, sel: np.ndarray) -> Field:
    """New field of shape ``sel.shape`` whose position q holds f's value at flat position ``sel[q]``.

    Indexing, broadcasting and reshaping are all gathers. Positions may be picked several times (broadcasting):
    their lanes are then replicated.
    """
    sel = np.asarray(sel, dtype=np.int64)
    flat = sel.ravel()
    pieces = []
    for p in f.pieces:
        if len(p.pos) == f.size and np.array_equal(p.pos, _arange(f.size)):
            lanes, new_pos = flat, _arange(len(flat))  # the common, elementwise case: one lane per position
        else:
            order = np.argsort(p.pos, kind="stable")
            counts = np.bincount(p.pos, minlength=f.size)
            starts = np.cumsum(counts) - counts
            c = counts[flat]
            total = int(c.sum())
            if total == 0:
                continue
            new_pos = np.repeat(_arange(len(flat)), c)
            within = _arange(total) - np.repeat(np.cumsum(c) - c, c)
            lanes = order[np.repeat(starts[flat], c) + within]
        if len(lanes) == 0:
            continue
        pieces.append(Piece(p.expr, new_pos, tuple(Slot(s.leaf, s.index[lanes]) for s in p.slots)))
    return Field(tuple(sel.shape), tuple(pieces), f.connected.reshape(-1)[flat].reshape(sel.shape))


def broadcast_to(f: Field, shape: tuple[int, ...]) -> Field:
    if f.shape == tuple(shape):
        return f
    ids = np.broadcast_to(_arange(f.size).reshape(f.shape), shape)
    return gather(f, ids)


def index(f: Field, key: tuple) -> Field:
    """``f[key]`` with NumPy basic indexing (ints and slices); IndexError propagates to the caller."""
    return gather(f, _arange(f.size).reshape(f.shape)[key])


def stack(fields: Sequence[Field]) -> Field:
    """Equal-shaped fields along a new leading axis."""
    shape = fields[0].shape
    pieces = []
    for k, f in enumerate(fields):
        pieces += [Piece(p.expr, p.pos + k * f.size, p.slots) for p in f.pieces]
    return Field((len(fields), *shape), tuple(pieces), np.stack([f.connected for f in fields]))


def reduce_sum(f: Field, axis: int | None = None) -> Field:
    """Sum over one axis (or all): lanes are redirected, templates untouched."""
    if axis is None:
        new_shape: tuple[int, ...] = ()
        remap = np.zeros(f.size, np.int64)
        connected = np.asarray(f.connected.any())
    else:
        new_shape = f.shape[:axis] + f.shape[axis + 1:]
        multi = np.unravel_index(_arange(f.size), f.shape)
        rest = [m for i, m in enumerate(multi) if i != axis]
        remap = np.ravel_multi_index(rest, new_shape) if new_shape else np.zeros(f.size, np.int64)
        connected = np.asarray(f.connected.any(axis=axis))  # a 1-d field reduces to a numpy scalar: make it 0-d
    pieces = tuple(Piece(p.expr, remap[p.pos], p.slots) for p in f.pieces)
    return Field(new_shape, pieces, connected)


def moveaxis(f: Field, source: int, destination: int) -> Field:
    ids = np.moveaxis(_arange(f.size).reshape(f.shape), source, destination)
    return gather(f, ids)


# --- arithmetic ------------------------------------------------------------------------------------------
def add(a: Field, b: Field, shape: tuple[int, ...], negate_b: bool = False) -> Field:
    """``a + b`` (or ``a - b``) broadcast to ``shape``: the lanes of both, no SymPy work beyond negation."""
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    pieces = list(a.pieces) + [Piece(-p.expr if negate_b else p.expr, p.pos, p.slots) for p in b.pieces]
    return Field(shape, tuple(pieces), a.connected | b.connected)


def scale(a: Field, factor: sympy.Expr) -> Field:
    """``a * factor`` for a constant factor: distributes over summed lanes, so no compaction is needed."""
    return Field(a.shape, tuple(Piece(p.expr * factor, p.pos, p.slots) for p in a.pieces), a.connected)


def is_compact(f: Field) -> bool:
    total = sum(len(p.pos) for p in f.pieces)
    if total != f.size:
        return False
    seen = np.zeros(f.size, bool)
    for p in f.pieces:
        seen[p.pos] = True
    return bool(seen.all())


def compact(f: Field) -> Field:
    """Exactly one lane per position: the lanes summed at a position fold into one template (``s0 + s1 + ...``).

    Positions are grouped by how many lanes of each piece they hold, so a reduction over n elements builds one
    n-term template, not n templates.
    """
    if is_compact(f):
        return f
    n = f.size
    counts = np.stack([np.bincount(p.pos, minlength=n) for p in f.pieces]) if f.pieces else np.zeros((0, n), int)
    orders = [np.argsort(p.pos, kind="stable") for p in f.pieces]
    starts = [np.cumsum(c) - c for c in counts]
    signatures, group = np.unique(counts.T, axis=0, return_inverse=True) if n else (np.zeros((0, 0)), [])
    group = np.asarray(group).ravel()
    pieces = []
    for g, signature in enumerate(signatures):
        where = np.flatnonzero(group == g)
        terms, slots = joined((f.pieces[i], orders[i][starts[i][where] + r])
                              for i, count in enumerate(signature) for r in range(int(count)))
        pieces.append(tidy(sympy.Add(*terms), where, slots))
    return Field(f.shape, tuple(pieces), f.connected)


def combine(op: Template, fields: Sequence[Field], shape: tuple[int, ...]) -> Field:
    """``op(*fields)`` elementwise after broadcasting to ``shape``: one template per combination of pieces."""
    fields = [compact(broadcast_to(f, shape)) for f in fields]
    n = int(np.prod(shape, dtype=np.int64))
    piece_of = np.zeros((len(fields), n), np.int64)
    lane_of = np.zeros((len(fields), n), np.int64)
    for k, f in enumerate(fields):
        for i, p in enumerate(f.pieces):
            piece_of[k, p.pos] = i
            lane_of[k, p.pos] = _arange(len(p.pos))
    combos, group = np.unique(piece_of.T, axis=0, return_inverse=True)
    group = np.asarray(group).ravel()
    pieces = []
    for g, combo in enumerate(combos):
        where = np.flatnonzero(group == g)
        args, slots = joined((fields[k].pieces[i], lane_of[k, where]) for k, i in enumerate(combo))
        pieces.append(tidy(op(*args), where, slots))
    connected = np.zeros(shape, bool)
    for f in fields:
        connected |= f.connected
    return Field(tuple(shape), tuple(pieces), connected)


def fold_all(op: Template, f: Field) -> Field:
    """``op(v0, v1, ..., v{n-1})`` over all elements of ``f`` (a reduction that folds): a scalar, one template."""
    f = compact(f)
    by_pos: list = [None] * f.size
    for p in f.pieces:
        for lane, q in enumerate(p.pos):
            by_pos[q] = (p, lane)
    args, slots = joined((p, slice(lane, lane + 1)) for p, lane in by_pos)
    piece = tidy(op(*args), np.zeros(1, np.int64), slots)
    return Field((), (piece,), np.asarray(f.connected.any()))


def indexes(array: np.ndarray, key: tuple) -> bool:
    """Whether ``key`` indexes ``array`` (an error message probes the key item by item to point at the bad one)."""
    try:
        array[key]
    except IndexError:
        return False
    return True
