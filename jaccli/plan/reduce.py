"""``--reduce det|logabsdet|trace|diag``, ``--jvp NAME``, ``--vjp NAME``: what people compute from a Jacobian.

Each applies to the *last two axis groups* of the per-example result ``(*T, *S^k)``: at order 1 those are the
target and the source (so det, logabsdet, trace and diag need ``size(T) == size(S)``), at order 2 and above two
source groups (trace is then the Laplacian of every target component, diag the Hessian's diagonal)::

    reduce      order 1     order k >= 2
    trace       ()          (*T, *S^(k-2))
    diag        S           (*T, *S^(k-1))
    det         ()          (*T, *S^(k-2))
    logabsdet   (2,)        (2, *T, *S^(k-2))       [0] = sign, [1] = log|det|, as numpy.linalg.slogdet
    --jvp v     (*T, *S^(k-1))  contracts the last source group with v (event shape S): k = 2 is H @ v
    --vjp u     (*S^k)          contracts the target axes with u (event shape T)

trace, diag, jvp and vjp are linear, so they are computed from the plan's placements (``retarget``) without
forming the full tensor. det and logabsdet take the product of the diagonal when the structure is triangular
(every partial lands on or below -- or on or above -- the diagonal: elementwise maps, autoregressive maps);
otherwise each chunk's full blocks go to ``numpy.linalg.det`` / ``slogdet``, one chunk at a time. The numeric half
(``ReducedPlan.numeric``, ``plan/reduced.py``) evaluates, SymPy-free, and is what the plan cache stores.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from jaccli.errors import UsageError, did_you_mean
from jaccli.expr.program import ExpressionText
from jaccli.expr.scope import Scope
from jaccli.plan.derive import Derivative
from jaccli.plan.engine import MAX_AXES, MAX_EXAMPLE_VALUES, Plan, _check_result_size, plan_jacobian
from jaccli.plan.reduce_index import Reduction, Vectors, index_map, reduced_shape, triangular, vector
from jaccli.plan.reduce_kinds import REDUCE_KINDS
from jaccli.plan.reduced import Group, ReducedCompiled
from jaccli.plan.retarget import retarget



@dataclass
class ReducedPlan(Plan):
    """A plan whose per-example result is a reduction of the derivative (``derivative`` stays the full one)."""

    reduction: Reduction = Reduction()
    shape: tuple[int, ...] = ()
    names: list[str] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)  # the linear path (det/logabsdet: the diagonal, if triangular)
    dense: bool = False  # det/logabsdet of full blocks, chunk by chunk
    block: int = 0  # n: the side of the square blocks det/logabsdet/trace/diag work on
    vectors: Vectors = field(default_factory=dict)  # the --jvp/--vjp arrays
    _numeric: ReducedCompiled | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def example_shape(self) -> tuple[int, ...]:
        return self.numeric.example_shape

    def layout(self) -> list[str]:
        return self.numeric.layout()

    def work_per_example(self) -> int:
        return self.numeric.work_per_example()

    def calls_per_chunk(self) -> int:
        return self.numeric.calls_per_chunk()

    def axis_rows(self, y: str) -> list[tuple[str, str]]:
        """(size, meaning) of every axis of the result, for ``--layout``."""
        d = self.derivative
        segments = d.source.segments  # --wrt a,b: one concatenated source
        src = "(" + ", ".join(g.name for g in segments) + ")" if segments else d.source.name
        rows = [("B", "examples, never mixed")]
        for name, size in zip(self.names, self.shape):
            what, _, tail = name.rpartition(":")
            axis = int(what.partition(".")[2] or 0)
            if name == "slogdet":
                rows.append(("2", "[0] sign, [1] log|det| (numpy.linalg.slogdet)"))
            elif name.startswith("target."):
                rows.append((str(size), f"{y}[{_ranges(d.target_shape, axis)}]"))
            elif tail == "diag":
                rows.append((str(size), f"d {y}[i] / d {src}[i], i over {src}[{_ranges(d.source.shape, axis)}]"))
            elif "=" in tail:
                rows.append((str(size), f"d2/d{src}[i]2, i over {src}[{_ranges(d.source.shape, axis)}] (diagonal)"))
            else:
                rows.append((str(size), f"d/d{src}[{_ranges(d.source.shape, axis)}]"))
        return rows

    @property
    def numeric(self) -> ReducedCompiled:
        """The numeric form (``plan/reduced.py``): what evaluates, and what the plan cache stores."""
        if self._numeric is None:
            d = self.derivative
            full = d if self.dense else Derivative(d.target_shape, d.source, d.order, d.connected, [], [])
            base = Plan(self.expression, self.tape, full, self.dtype, self.scope, self.value, self.nan_prone).compiled
            self._numeric = ReducedCompiled(base, self.reduction.kind, self.reduction.vjp is not None, self.shape,
                                            tuple(self.names), tuple(d.source.shape), tuple(self.groups),
                                            self.dense, self.block)
        return self._numeric

    def evaluate(self, arrays: Mapping[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        return self.numeric.evaluate(arrays, out)


def _ranges(shape: tuple[int, ...], axis: int) -> str:
    return ",".join(f"0..{n - 1}" if a == axis else ":" for a, n in enumerate(shape))


# --- planning ------------------------------------------------------------------------------------------------
def plan_reduced(expression: str | ExpressionText, scope: Scope, order: int, dtype: np.dtype,
                 reduction: Reduction) -> Plan:
    """``engine.plan_jacobian``, then ``reduce_plan``. The full result's size limit applies only when the full
    blocks are formed: the Laplacian of 100 000 features has a 10**10-value Hessian, but needs none of it."""
    return reduce_plan(plan_jacobian(expression, scope, order, dtype, full=not reduction.active), reduction)


def reduce_plan(plan: Plan, reduction: Reduction) -> Plan:
    """``plan`` (the full derivative) turned into the reduced one; ``plan`` itself if nothing is asked for."""
    if not reduction.active:
        return plan
    if reduction.kind is not None and reduction.kind not in REDUCE_KINDS:
        guess = did_you_mean(str(reduction.kind), REDUCE_KINDS)
        raise UsageError(f"unknown reduction '{reduction.kind}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                         hint="choose one of " + ", ".join(REDUCE_KINDS))
    if reduction.kind is not None and (reduction.jvp or reduction.vjp):
        raise UsageError(f"{reduction.label()}: --reduce cannot be combined with --jvp or --vjp",
                         hint="run them separately")
    d = plan.derivative
    target, source, k = d.target_shape, d.source.shape, d.order
    n = d.source.size
    shape, names = reduced_shape(plan, reduction)
    axes, values = 1 + len(shape), int(np.prod(shape, dtype=np.int64))
    if axes > MAX_AXES or values > MAX_EXAMPLE_VALUES:
        raise UsageError(f"{reduction.label()}: the result would have {axes} axes and {values} values per example",
                         hint=f"the limits are {MAX_AXES} axes and {MAX_EXAMPLE_VALUES} values per example")
    vectors: Vectors = {}
    if reduction.jvp:
        vectors["jvp"] = vector(plan.scope, reduction.jvp, source, "--jvp", f"the source {d.source.name}")
    if reduction.vjp:
        vectors["vjp"] = vector(plan.scope, reduction.vjp, target, "--vjp", "the target")
    kind = reduction.kind
    dense = False
    if kind in ("det", "logabsdet"):
        dense = not triangular(d, n)
        kind = "diag"
    if dense:
        _check_result_size(plan.tape, k)  # the full blocks are formed, one chunk at a time
        groups = []
    else:
        groups = retarget(d, index_map(kind, vectors, n, k))
    return ReducedPlan(plan.expression, plan.tape, d, plan.dtype, plan.scope, plan.value, plan.nan_prone,
                       reduction=reduction, shape=shape, names=names, groups=groups, dense=dense, block=n,
                       vectors=vectors)
