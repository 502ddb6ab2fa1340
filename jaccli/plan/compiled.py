"""A plan as numbers only: gather indices, NumPy programs and scatter indices. No SymPy, no expression tree.

``Compiled`` is everything ``evaluate`` needs, and all of it is data: the symbolic planner builds it once
(``from_derivative``), the plan cache stores and reloads it (``plan/store.py``), and a worker process can evaluate it
without importing SymPy. Per chunk of ``b`` examples, each ``Group`` gathers its slot inputs ``(b, L)`` (or
``(b, 1)`` when every lane reads one element: a broadcast, never copied per lane), evaluates its ``Program``, lays the
results side by side as one block ``(b, parts*L)`` and writes that block into the result with a few vectorised
``Step`` s (precomputed flat indices; one ``np.take`` into a contiguous slice where the destinations form one).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

import numpy as np

from jaccli.plan import nanrule
from jaccli.plan.program import Program
from jaccli.plan.rescue import rescue

if TYPE_CHECKING:
    from jaccli.plan.derive import Derivative

MODES = ("assign", "add", "add_at")


@dataclass(frozen=True)
class Step:
    """``out[:, dst] (+)= block[:, src]``. ``assign`` and ``add`` have unique ``dst``; ``add_at`` accumulates
    repeats in order. ``span`` = (start, stop) when ``dst`` is exactly ``start..stop-1`` in order."""

    mode: str
    dst: np.ndarray
    src: np.ndarray
    span: tuple[int, int] | None = field(init=False, default=None)
    identity: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        n = len(self.dst)
        if self.mode != "add_at" and n and int(self.dst[-1]) - int(self.dst[0]) == n - 1 \
                and bool((np.diff(self.dst) == 1).all()):
            object.__setattr__(self, "span", (int(self.dst[0]), int(self.dst[0]) + n))
            object.__setattr__(self, "identity", bool(np.array_equal(self.src, np.arange(n))))


@dataclass(frozen=True)
class Group:
    """Templates that read the same slots: one gather, one program, ``parts * lanes`` values per example."""

    lanes: int
    slots: tuple[tuple[str, np.ndarray], ...]  # (leaf, flat element per lane)
    program: Program
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Compiled:
    expression: str
    dtype: np.dtype
    target_shape: tuple[int, ...]
    shape: tuple[int, ...]  # per example: (*T, *S^k), or one row of several orders' values (plan/orders.py)
    layout_names: tuple[str, ...]  # axis names of (B, *T, *S^k), 'batch' first
    order: int
    connected: bool
    leaves: dict[str, int]  # every array the plan reads -> its flat event size
    groups: tuple[Group, ...]
    value: Compiled | None = None  # the target's value (order 0), for the nan rule (plan/nanrule.py)
    nan_prone: bool = False  # can the value be nan for finite inputs? then every chunk checks it
    params: dict[str, np.ndarray] = field(default_factory=dict)  # shared parameters: (1, n) rows, plan dtype

    @property
    def example_shape(self) -> tuple[int, ...]:
        """Per-example result shape ``(*T, *S, ..., *S)``."""
        return self.shape

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def compiled(self) -> Compiled:
        return self

    def layout(self) -> list[str]:
        """Axis names of the full result ``(B, *T, *S^k)``, e.g. ``['batch', 'target.0', 'x.0:d1']``."""
        return list(self.layout_names)

    def evaluate(self, arrays: Mapping[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        """One chunk -> ``(b, *example_shape)`` (the module's ``evaluate``; a ``Plan`` has the same method)."""
        return evaluate(self, arrays, out)

    def work_per_example(self) -> int:
        """Values held per example while a chunk is evaluated: the result, each group's live registers and block."""
        return self.size + max((g.lanes * (g.program.peak_live() + 2 * len(g.program.outputs))
                                for g in self.groups), default=0)

    def calls_per_chunk(self) -> int:
        return sum(len(g.slots) + len(g.program.code) + len(g.program.outputs) + len(g.steps) + 2
                   for g in self.groups) + 4

    def chunk_size(self, parallel_iterations: int | None) -> int:
        from jaccli.plan.chunking import chunk_rows

        return chunk_rows(self, parallel_iterations)


def from_derivative(d: Derivative, expression: str, dtype: np.dtype, leaves: Mapping[str, int],
                    value: Compiled | None = None, nan_prone: bool = False,
                    params: Mapping[str, np.ndarray] | None = None, layout: tuple[str, ...] = ()) -> Compiled:
    """The numeric part of a symbolic plan; placements become per-group steps on the group's value block."""
    groups = []
    for group in d.groups:
        head = group[0]
        lanes = head.lanes
        placements = [pl for prog in group for pl in prog.placements]
        groups.append(Group(lanes, tuple((s.leaf, np.asarray(s.index, np.int64)) for s in head.slots),
                            head.kernel.program, _steps(placements, lanes)))
    return Compiled(expression, np.dtype(dtype), tuple(d.target_shape), tuple(d.shape), tuple(layout), d.order,
                    bool(d.connected), dict(leaves), tuple(groups), value, nan_prone, dict(params or {}))


def _steps(placements: list, lanes: int) -> tuple[Step, ...]:
    """Placements (in plan order) as few steps: every ``assign`` first (each lands on entries nothing wrote
    before it, so it commutes with the adds before it), then groups of ``add`` on disjoint entries, in order."""
    def columns(pl) -> np.ndarray:
        within = np.arange(lanes, dtype=np.int64) if pl.lanes is None else np.asarray(pl.lanes, np.int64)
        return pl.part * lanes + within

    steps: list[Step] = []
    assigns = [pl for pl in placements if pl.mode == "assign"]
    if assigns:
        dst = np.concatenate([np.asarray(pl.flat, np.int64) for pl in assigns])
        src = np.concatenate([columns(pl) for pl in assigns])
        order = np.argsort(dst, kind="stable")
        steps.append(Step("assign", dst[order], src[order]))
    adds: list = []
    seen: set[int] = set()

    def flush() -> None:
        if adds:
            dst = np.concatenate([np.asarray(pl.flat, np.int64) for pl in adds])
            src = np.concatenate([columns(pl) for pl in adds])
            order = np.argsort(dst, kind="stable")
            steps.append(Step("add", dst[order], src[order]))
            adds.clear()
            seen.clear()

    for pl in placements:
        if pl.mode == "assign":
            continue
        flats = np.asarray(pl.flat, np.int64).tolist()
        if pl.mode == "add_at":
            flush()
            steps.append(Step("add_at", np.asarray(pl.flat, np.int64), columns(pl)))
            continue
        if not seen.isdisjoint(flats):
            flush()
        adds.append(pl)
        seen.update(flats)
    flush()
    return tuple(steps)


# --- evaluation ------------------------------------------------------------------------------------------------
def gather(flat: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Slot input ``(b, L)`` (or ``(b, 1)`` when every lane reads the same element) from a leaf ``(b, n)``."""
    n = flat.shape[1]
    if len(index) == n and index[0] == 0 and np.array_equal(index, np.arange(n)):
        return flat
    if len(index) > 1 and (index == index[0]).all():
        index = index[:1]
    return np.take(flat, index, axis=1)


def _block(parts: list, b: int, lanes: int, dtype: np.dtype) -> np.ndarray:
    """The program's outputs side by side: ``(b, parts*lanes)``; constants and ``(b, 1)`` broadcasts expanded."""
    shaped = [np.broadcast_to(np.asarray(p, dtype=dtype), (b, lanes)) for p in parts]
    if len(shaped) == 1:
        return shaped[0]
    return np.concatenate(shaped, axis=1)


def _apply(out: np.ndarray, block: np.ndarray, step: Step) -> None:
    if step.span is not None and step.mode == "assign":
        start, stop = step.span
        if step.identity:  # src is 0..n-1: the block's first n columns, as they are
            out[:, start:stop] = block[:, :stop - start]
        elif start == 0 and stop == out.shape[1] and out.flags.c_contiguous:
            np.take(block, step.src, axis=1, out=out, mode="clip")  # indices checked when the plan was made
        else:
            out[:, start:stop] = np.take(block, step.src, axis=1, mode="clip")
        return
    values = block[:, :len(step.src)] if step.identity else np.take(block, step.src, axis=1, mode="clip")
    if step.mode == "assign":
        out[:, step.dst] = values
    elif step.mode == "add":
        if step.span is not None:
            out[:, step.span[0]:step.span[1]] += values
        else:
            out[:, step.dst] += values
    else:  # repeated destinations: accumulate in order, deterministically
        np.add.at(out, (slice(None), step.dst), values)  # type: ignore[arg-type]  # (numpy's stub)


def all_finite(a: np.ndarray) -> bool:
    """One reduction instead of a boolean pass: a finite sum means no value is nan or inf (an overflowing sum of
    finite values just sends the caller down the careful path)."""
    with np.errstate(all="ignore"):
        return math.isfinite(float(np.add.reduce(a, axis=None)))


def evaluate(plan: Compiled, arrays: Mapping[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
    """One chunk: ``arrays[name]`` of shape ``(b, *event)`` in the plan's dtype -> result ``(b, *T, *S^k)``.

    ``out``, if given, is a zero-filled C-contiguous ``(b, *T, *S^k)`` array to fill (the API's whole result, one
    slice per chunk: no copy of a multi-gigabyte result at the end).
    """
    b = next(iter(arrays.values())).shape[0]
    result = np.zeros((b,) + plan.example_shape, plan.dtype) if out is None else out
    flat_out = result.reshape(b, plan.size)
    flats = {name: np.ascontiguousarray(a).reshape(b, -1) for name, a in arrays.items()}
    flats.update(plan.params)  # (1, n): broadcast in the kernel, never tiled to the batch
    finite = True
    for group in plan.groups:
        inputs = [gather(flats[leaf], index) for leaf, index in group.slots]
        lanes, width = group.lanes, len(group.program.outputs) * group.lanes
        block = np.empty((b, width), plan.dtype)
        group.program.fill(inputs, block, lanes)
        # One reduction per block: a finite sum means no value is nan or inf, so no nan can reach the output.
        if block.size and not all_finite(block):
            finite = False
            parts = [block[:, p * lanes:(p + 1) * lanes] for p in range(len(group.program.outputs))]
            block = _block(rescue(group.program, inputs, parts, plan.dtype), b, lanes, plan.dtype)
        # inf + -inf is nan here, and a sum of huge finite values inf: results like any other (counted later)
        with np.errstate(invalid="ignore", over="ignore"):
            for step in group.steps:
                _apply(flat_out, block, step)
    if plan.value is not None and (plan.nan_prone or nanrule.inputs_hold_nan(dict(arrays))):
        value = nanrule.checked(evaluate(plan.value, arrays), arrays, plan.nan_prone)
        finite = finite and not bool(np.isnan(value).any())
        nanrule.apply(result, value)
    if not finite:  # one NaN bit pattern: SIMD and scalar loops disagree on a NaN's sign, bytes must not
        nan = np.isnan(flat_out)
        flat_out[nan] = np.nan
    return result
