"""The numeric half of ``--reduce``/``--jvp``/``--vjp`` (``plan/reduce.py`` plans it): re-targeted kernels and
what evaluates them, SymPy-free, so that a reduced plan loaded from the plan cache runs with no symbolic half.

A ``Group`` is a kernel over the kept lanes of programs that read the same slots, and its ``Target``s say where
each output lane goes in the reduced result (``plan/retarget.py`` builds them). ``ReducedCompiled`` evaluates a
chunk: the linear path (trace, diag, jvp, vjp, and det/logabsdet of triangular blocks through their diagonal)
from the groups, or det/logabsdet of full blocks from ``base``, the full derivative's compiled plan.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from jaccli.plan import nanrule
from jaccli.plan.chunking import chunk_rows
from jaccli.plan.compiled import Compiled, gather, evaluate as evaluate_compiled
from jaccli.plan.program import Program
from jaccli.plan.rescue import rescue
from jaccli.textkit import item_path


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


def make_target(part: int, lanes: np.ndarray | None, weights: tuple[tuple[str, np.ndarray], ...],
                order: np.ndarray | None, starts: np.ndarray | None, unique: np.ndarray,
                written: set[int]) -> Target:
    """A ``Target`` with its write mode and ``in_order`` derived from ``unique``, given the reduced indices
    ``written`` by the targets before it (updated). One rule for a fresh plan (``retarget``) and one loaded from
    the plan cache (``reduced_store``): they must never disagree on what is assigned and what added."""
    values = unique.tolist()
    mode = "assign" if written.isdisjoint(values) else "add"
    written.update(values)
    in_order = bool((unique == np.arange(len(unique))).all())
    return Target(part, lanes, weights, order, starts, unique, mode, in_order)


@dataclass(frozen=True)
class Group:
    """A kernel over the kept lanes of programs that read the same slots, and where its outputs go."""

    slots: tuple[tuple[str, np.ndarray], ...]  # (leaf, flat element per lane)
    program: Program
    lanes: int
    targets: tuple[Target, ...]

    @property
    def work(self) -> int:
        return self.lanes * (len(self.program) + len(self.slots) + 1)


def evaluate_groups(groups: tuple[Group, ...] | list[Group], flats: dict[str, np.ndarray], out: np.ndarray) -> None:
    """Add every group's contribution into ``out`` ``(b, R)`` (zero-filled)."""
    for group in groups:
        inputs = [gather(flats[leaf], index) for leaf, index in group.slots]
        parts = rescue(group.program, inputs, group.program(inputs), out.dtype)  # as the engine: finite where true
        # inf * 0 and inf + -inf are nan here, a product or sum of huge finite values inf: results like any
        # other, counted by the run's non-finite warning, not warned about by NumPy on stderr (as compiled.py)
        with np.errstate(invalid="ignore", over="ignore"):
            for t in group.targets:
                _place(t, parts, flats, out, group.lanes)


def _place(t: Target, parts: list, flats: dict[str, np.ndarray], out: np.ndarray, lanes: int) -> None:
    """One target's lanes of a group's kernel outputs ``parts``: weighted, summed by reduced index, into ``out``."""
    value = np.broadcast_to(np.asarray(parts[t.part], dtype=out.dtype), (out.shape[0], lanes))
    if t.lanes is not None:
        value = value[:, t.lanes]
    for name, element in t.weights:
        value = value * gather(flats[name], element)  # the vector read like a slot: no copy when in order
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
            else:  # under evaluate_groups' errstate: inf + -inf is nan, as IEEE says
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


@dataclass(frozen=True)
class ReducedCompiled:
    """A reduced plan's numeric form: per example ``shape`` (axes ``names``) instead of ``base``'s ``(*T, *S^k)``.

    ``base`` is the full derivative's compiled plan: its groups only when ``dense`` (det/logabsdet of full
    blocks; otherwise it has none), its shared parameters, its value plan (the nan rule) and its shapes."""

    base: Compiled
    kind: str | None  # det | logabsdet | trace | diag, None for --jvp/--vjp
    vjp: bool  # the target's axes are contracted (--vjp)
    shape: tuple[int, ...]
    names: tuple[str, ...]
    source_shape: tuple[int, ...]
    groups: tuple[Group, ...]
    dense: bool
    block: int  # n: the side of the square blocks det/logabsdet/trace/diag work on

    dtype = property(lambda self: self.base.dtype)
    order = property(lambda self: self.base.order)
    connected = property(lambda self: self.base.connected)
    target_shape = property(lambda self: self.base.target_shape)
    leaves = property(lambda self: self.base.leaves)
    numeric = property(lambda self: self)
    compiled = property(lambda self: self)

    @property
    def example_shape(self) -> tuple[int, ...]:
        return self.shape

    def layout(self) -> list[str]:
        return ["batch", *self.names]

    def det_count(self) -> int:
        """How many determinants one example has (the size of the leading axes of the result)."""
        size = int(np.prod(self.shape, dtype=np.int64))
        return size // 2 if self.kind == "logabsdet" else size

    def work_per_example(self) -> int:
        size = int(np.prod(self.shape, dtype=np.int64))
        if self.dense:
            return size + self.base.work_per_example()
        diagonal = self.det_count() * self.block if self.kind in ("det", "logabsdet") else 0
        return 2 * size + diagonal + sum(g.work for g in self.groups)

    def calls_per_chunk(self) -> int:
        if self.dense:
            return self.base.calls_per_chunk() + 4
        return sum(len(g.slots) + len(g.program) + 2 * len(g.targets) + 2 for g in self.groups) + 4

    def chunk_size(self, parallel_iterations: int | None) -> int:
        return chunk_rows(self, parallel_iterations)

    def evaluate(self, arrays: Mapping[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        b = next(iter(arrays.values())).shape[0]
        result = np.zeros((b,) + self.shape, self.dtype) if out is None else out
        if self.dense:
            full = evaluate_compiled(self.base, arrays)  # the full result of this chunk: (b, *T, *S^k)
            _determinant(full.reshape(b, self.det_count(), self.block, self.block), self.kind, result)
        else:
            flats = {k: np.ascontiguousarray(a).reshape(b, -1) for k, a in arrays.items()}
            flats.update(self.base.params)  # -P arrays as (1, n) rows, as the engine reads them
            if self.kind in ("det", "logabsdet"):
                diagonal = np.zeros((b, self.det_count(), self.block), self.dtype)
                evaluate_groups(self.groups, flats, diagonal.reshape(b, -1))
                _determinant_of_diagonal(diagonal, self.kind, result)
            else:
                evaluate_groups(self.groups, flats, result.reshape(b, -1))
        self._nan_rule(arrays, result)
        nan = np.isnan(result)
        if nan.any():  # one NaN bit pattern, as the engine writes: output bytes must not depend on the path
            result[nan] = np.nan
        return result

    def _nan_rule(self, arrays: Mapping[str, np.ndarray], result: np.ndarray) -> None:
        """``plan/nanrule.py`` carried through the reduction: a component whose value is nan has nan derivatives,
        so whatever is reduced from them is nan too (a whole example's det, trace at order 1 and vjp; else its row)."""
        base = self.base
        if base.value is None or not (base.nan_prone or nanrule.inputs_hold_nan(dict(arrays))):
            return
        value = nanrule.checked(evaluate_compiled(base.value, arrays), arrays, base.nan_prone)
        b = value.shape[0]
        nan = np.isnan(value.reshape(b, -1))
        if not nan.any():
            return
        if self.vjp or (self.kind in ("trace", "det", "logabsdet") and base.order == 1):
            result[nan.any(axis=1)] = np.nan
        elif self.kind == "logabsdet":
            result.reshape(b, 2, nan.shape[1], -1)[np.repeat(nan[:, None, :], 2, axis=1)] = np.nan
        else:  # the target's axes lead the result (order-1 diag: its index is the target's)
            result.reshape(b, nan.shape[1], -1)[nan] = np.nan


def _determinant(blocks: np.ndarray, kind: str | None, result: np.ndarray) -> None:
    """``det`` or ``slogdet`` of blocks ``(b, P, n, n)`` into ``result`` (``(b, *R)`` or ``(b, 2, *R)``)."""
    b = blocks.shape[0]
    with np.errstate(all="ignore"):
        if kind == "det":
            result.reshape(b, -1)[:] = np.linalg.det(blocks)
        else:
            sign, logabs = np.linalg.slogdet(blocks)
            pair = result.reshape(b, 2, -1)
            pair[:, 0], pair[:, 1] = sign, logabs


def _determinant_of_diagonal(diagonal: np.ndarray, kind: str | None, result: np.ndarray) -> None:
    """The determinant of a triangular block is the product of its diagonal ``(b, P, n)``."""
    b = diagonal.shape[0]
    with np.errstate(all="ignore"):
        if kind == "det":
            result.reshape(b, -1)[:] = np.prod(diagonal, axis=-1)
        else:
            pair = result.reshape(b, 2, -1)
            pair[:, 0] = np.prod(np.sign(diagonal), axis=-1)
            pair[:, 1] = np.sum(np.log(np.abs(diagonal)), axis=-1)


def csv_header(plan: object) -> list[str] | None:
    """CSV cells for a logabsdet result: two column groups, ``sign...`` then ``logabsdet...``; else None."""
    if getattr(plan, "kind", None) != "logabsdet":
        return None
    rest = plan.shape[1:]  # type: ignore[attr-defined]
    suffixes = [item_path(index) for index in np.ndindex(*rest)] if rest else [""]
    return [f"{name}{suffix}" for name in ("sign", "logabsdet") for suffix in suffixes]
