"""The entries ``jaccli symbolic`` shows, worked out before any spelling: blocks, index patterns and element names.

A *block* is one (template, partial, ordering) of the plan's derivative with the lanes it covers; ``entry_blocks``
merges the entries several blocks write into one block per kind of entry. A block whose coordinates are affine in
its lanes gets a ``Pattern`` (``x[i+1] for i in 0..3``), and ``Namer`` names every element a line shows (CSV column
names, bare scalars, ``leaf[index]``) as a ``Name``: a base and index texts, spelled per form by ``symbolic``.
Nothing here prints a formula or evaluates numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Sequence

import numpy as np
import sympy

from jaccli.plan.engine import Plan
from jaccli.expr.field import slot_symbol
from jaccli.expr.scope import Scope
from jaccli.expr.source import Source
from jaccli.plan.orderings import distinct_orderings

INDEX_NAMES = "ijkmnpqrs"  # pattern variables; 'l' is skipped (it reads as 1), scope names are skipped too
Name = tuple[str, tuple[str, ...]]  # (base, index texts): ('x', ('i', '0')) is x[i,0]; ('theta', ()) is theta


# --- blocks: entries that share one template ------------------------------------------------------------------
@dataclass
class Block:
    """Entries that share one partial: per lane, the target position, the sources and the elements it reads."""

    expr: sympy.Expr  # the partial, over slot symbols s0..s{m-1}
    slots: list[tuple[str, np.ndarray]]  # per slot: (leaf, flat element read on each lane)
    target: np.ndarray  # (L,) flat target position per lane
    sources: np.ndarray  # (L, k) flat source index per lane, one column per derivative

    def take(self, lanes: np.ndarray) -> "Block":
        if len(lanes) == len(self.target) and np.array_equal(lanes, np.arange(len(lanes))):
            return self  # all lanes in order: no copy (a 300-element norm's Hessian has 90 000 one-lane blocks)
        return Block(self.expr, [(leaf, idx[lanes]) for leaf, idx in self.slots], self.target[lanes],
                     self.sources[lanes])

    def keys(self, n: int) -> np.ndarray:
        """Flat index of each lane's entry in the per-example result ``(*T, *S^k)`` (C order)."""
        k = self.sources.shape[1]
        return self.target * n**k + self.sources @ (n ** np.arange(k - 1, -1, -1, dtype=np.int64))


def _blocks(plan: Plan) -> list[Block]:
    """One block per (template, partial, distinct ordering), restricted to the lanes that read the source."""
    d = plan.derivative
    out = []
    for prog in d.programs:
        slots = [(s.leaf, s.index) for s in prog.slots]
        for part, multiset in enumerate(prog.multisets):
            for ordering in distinct_orderings(multiset):
                cols = [_source_index(d.source, prog.slots[j].leaf, prog.slots[j].index) for j in ordering]
                src = np.stack(cols, axis=1) if cols else np.zeros((prog.lanes, 0), np.int64)
                valid = np.flatnonzero((src >= 0).all(axis=1))
                if len(valid):
                    out.append(Block(prog.partials[part], slots, prog.piece.pos, src).take(valid))
    return out


def _source_index(source: Source, leaf: str, index: np.ndarray) -> np.ndarray:
    smap = source.map_for(leaf)
    return smap[index] if smap is not None else np.full(len(index), -1, np.int64)


def _merge(blocks: list[Block], n: int) -> list[Block]:
    """Sum the contributions of entries written more than once; entries are grouped by who writes them, so a
    reduction or an alias (``x * x[::-1]``) gives one merged template per kind of entry, not one per entry."""
    if not blocks:
        return []
    keys = [b.keys(n) for b in blocks]
    flat = np.concatenate(keys)
    which = np.concatenate([np.full(len(k), i) for i, k in enumerate(keys)])
    lane = np.concatenate([np.arange(len(k)) for k in keys])
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    shared = counts[inverse.ravel()] > 1
    out = [b.take(np.flatnonzero(~shared[which == i])) for i, b in enumerate(blocks)]
    out = [b for b in out if len(b.target)]
    idx = np.flatnonzero(shared)
    groups: dict[tuple[int, ...], list[list[int]]] = {}
    for _, same in groupby(idx[np.lexsort((lane[idx], which[idx], flat[idx]))], key=lambda c: flat[c]):
        members = list(same)
        groups.setdefault(tuple(int(which[c]) for c in members), []).append([int(lane[c]) for c in members])
    for signature, entries in groups.items():
        lanes = np.asarray(entries, np.int64)
        terms: list[sympy.Expr] = []
        slots: list[tuple[str, np.ndarray]] = []
        for r, i in enumerate(signature):
            b = blocks[i]
            shift = {slot_symbol(j): slot_symbol(j + len(slots)) for j in range(len(b.slots))}
            terms.append(b.expr.xreplace(shift))
            slots += [(leaf, ix[lanes[:, r]]) for leaf, ix in b.slots]
        expr = sympy.Add(*terms)
        if expr != 0:
            first = blocks[signature[0]].take(lanes[:, 0])
            out.append(Block(expr, slots, first.target, first.sources))
    return out


def entry_blocks(plan: Plan) -> list[Block]:
    """The plan's non-zero entries as blocks, each entry in exactly one (merged where several blocks write it)."""
    return _merge(_blocks(plan), plan.derivative.source.size)


# --- patterns: indices that are affine in the lanes -------------------------------------------------------------
@dataclass
class Pattern:
    """A block's shown coordinates as affine functions of named index variables (``x[i+1] for i in 0..3``)."""

    variables: list[tuple[str, int, int]]  # (name, first, last); none for a single entry
    rows: list[tuple[int, tuple[int, ...]]]  # per shown coordinate: constant, coefficient per variable


def _fit(rows: np.ndarray, grid: tuple[int, ...], names: str) -> Pattern | None:
    """Each row (one coordinate over the lanes, in entry order) as ``c + sum(a_v * v)`` over the grid's variables.

    A variable must equal some coordinate outright (a step of 1 along its axis only), so patterns read ``x[i]``
    and ``x[i+1]``, never ``x[2*i]`` with a hidden meaning of ``i``; otherwise the entries are listed.
    """
    axes = np.indices(grid).reshape(len(grid), -1)
    fits = []
    for row in rows:
        g = row.reshape(grid)
        base = int(g.flat[0])
        steps = tuple(int(np.moveaxis(g, a, 0)[1].flat[0]) - base for a in range(len(grid)))
        if not np.array_equal(row, base + np.dot(steps, axes)):
            return None
        fits.append((base, steps))
    units = [tuple(int(a == b) for b in range(len(grid))) for a in range(len(grid))]
    found = [next((base for base, steps in fits if steps == unit), None) for unit in units]
    starts = [s for s in found if s is not None]
    if len(starts) < len(found):  # some variable is no coordinate outright
        return None
    variables = [(names[a], s, s + grid[a] - 1) for a, s in enumerate(starts)]
    return Pattern(variables, [(base - int(np.dot(steps, starts)), steps) for base, steps in fits])


def _grids(lanes: int, shapes: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Grid shapes to try, fewest axes first: the lanes in a row, or runs of axes of the shapes involved."""
    found: list[tuple[int, ...]] = [(lanes,)]
    for shape in shapes:
        dims = [s for s in shape if s > 1]
        found += [tuple(dims[a:b]) for a in range(len(dims)) for b in range(a + 2, len(dims) + 1)
                  if int(np.prod(dims[a:b])) == lanes]
    return sorted(dict.fromkeys(found), key=len)


def _index_text(const: int, coefs: Sequence[int], variables: Sequence[tuple[str, int, int]]) -> str:
    """``i``, ``i+1``, ``3-i``, ``2*j``... (no spaces, so a multi-index reads ``x[i,j+1]``)."""
    text = ""
    for c, (var, _, _) in zip(coefs, variables):
        if c:
            text += ("-" if c < 0 else "+" if text else "") + (var if abs(c) == 1 else f"{abs(c)}*{var}")
    if not text or not const:
        return text or str(const)
    return f"{const}{text}" if text[0] == "-" and const > 0 else f"{text}{const:+d}"


# --- names -----------------------------------------------------------------------------------------------------
def _unravel(flat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Multi-indices as an (ndim, L) array; a 0-d shape has no coordinates."""
    return np.array(np.unravel_index(flat, shape)) if shape else np.zeros((0, len(flat)), np.int64)


class Namer:
    """Readable names for elements: CSV column aliases first, bare names for scalars, else ``leaf[multi-index]``.

    Leaf shapes and aliases come from the scope. Without one the source's own leaf is still named exactly, and
    other leaves by their flat element.
    """

    def __init__(self, plan: Plan, scope: Scope | None, target_name: str | None = None) -> None:
        src = self.source = plan.derivative.source
        self.target_shape = plan.derivative.target_shape
        watched = np.flatnonzero(src.smap >= 0)
        self.leaf_of = np.array([element for _, element in src.elements()], np.int64)
        self.arrays = {src.leaf: src.shape if src.name == src.leaf else (src.smap.size,)}
        single = src.name != src.leaf and not src.segments  # a CSV column as the source
        self.aliases = {(src.leaf, int(watched[0])): src.name} if single else {}
        used = {src.name, src.leaf}
        if scope is not None:
            self.arrays = {k: tuple(v) for k, v in scope.arrays.items()}
            self.arrays.update({k: tuple(v.shape) for k, v in scope.params.items()})  # named like arrays
            for alias, (leaf, i) in scope.columns.items():
                self.aliases.setdefault((leaf, int(i)), alias)
            used |= set(scope.names())
        self.letters = "".join(c for c in INDEX_NAMES if c not in used)
        self.y = target_name or next(n for n in ("y", "f", "out", "target_") if n not in used)  # never an input's

    def shape(self, leaf: str) -> tuple[int, ...]:
        return self.arrays.get(leaf, (np.iinfo(np.int64).max,))  # unknown leaf: flat, unbounded

    def coordinates(self, b: Block) -> np.ndarray:
        """Every index a line shows, one row per coordinate: the target's, each source's, each slot element's."""
        rows = [_unravel(b.target, self.target_shape)]
        rows += [_unravel(b.sources[:, c], self.source.shape) for c in range(b.sources.shape[1])]
        return np.concatenate(rows + [_unravel(ix, self.shape(leaf)) for leaf, ix in b.slots])

    def pattern(self, b: Block) -> Pattern | None:
        rows = self.coordinates(b)
        if self.source.segments and not self._segment_wise(b):
            return None
        for grid in _grids(len(b.target), [self.target_shape, self.source.shape,
                                           *(self.shape(leaf) for leaf, _ in b.slots)]):
            found = _fit(rows, grid, self.letters) if len(grid) <= len(self.letters) else None
            if found is not None:
                return found
        return None

    def _segment_wise(self, b: Block) -> bool:
        """Several sources: a pattern may move a source index only within one segment of rank 1 (its index is
        then the concatenated one minus the segment's offset)."""
        for c in range(b.sources.shape[1]):
            column = b.sources[:, c]
            first, last = self.source.segment_of(int(column.min())), self.source.segment_of(int(column.max()))
            if first != last or (len(first.shape) > 1 and (column != column[0]).any()):
                return False
        return True

    def element(self, leaf: str, flat: int, index: tuple[str, ...], fixed: bool) -> Name:
        """A fixed element by its column name when it has one; otherwise ``leaf[index]`` (numbers or symbols)."""
        return (self.aliases[(leaf, flat)], ()) if fixed and (leaf, flat) in self.aliases else (leaf, index)

    def names(self, b: Block, p: Pattern) -> tuple[Name, list[Name], list[Name]]:
        """Target, sources and slot names of a line (``b``'s first lane fixes whatever the pattern does not move)."""
        rows = list(p.rows)
        segments = [self.source.segment_of(int(i)) for i in b.sources[0]] if self.source.segments else []
        for c, seg in enumerate(segments):  # several sources: an index within its segment
            const, coefs = rows[len(self.target_shape) + c]
            rows[len(self.target_shape) + c] = (const - seg.offset, coefs)
        texts = [(_index_text(c, coefs, p.variables), not any(coefs)) for c, coefs in rows]
        at = 0

        def take(ndim: int) -> tuple[tuple[str, ...], bool]:
            nonlocal at
            part, at = texts[at:at + ndim], at + ndim
            return tuple(t for t, _ in part), all(f for _, f in part)

        target = (self.y, take(len(self.target_shape))[0])
        src, sources, slots = self.source, [], []
        for seg in segments:  # several sources: each is named by its segment (an array or a CSV column)
            index, fixed = take(1)
            if fixed and seg.shape:
                index = tuple(str(int(i)) for i in np.unravel_index(int(index[0]), seg.shape))
            sources.append((seg.name, index if seg.shape else ()))
        for c in range(0 if segments else b.sources.shape[1]):
            index, fixed = take(len(src.shape))
            flat = int(self.leaf_of[b.sources[0, c]])
            sources.append((src.name, ()) if src.shape == () else self.element(src.leaf, flat, index, fixed))
        for leaf, ix in b.slots:
            slots.append(self.element(leaf, int(ix[0]), *take(len(self.shape(leaf)))))
        return target, sources, slots
