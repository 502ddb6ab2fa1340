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
otherwise each chunk's full blocks go to ``numpy.linalg.det`` / ``slogdet``, one chunk at a time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from jaccli.errors import UsageError, did_you_mean
from jaccli.expr.program import ExpressionText
from jaccli.expr.scope import Scope
from jaccli.plan import nanrule
from jaccli.plan.engine import MAX_AXES, MAX_EXAMPLE_VALUES, Plan, _check_result_size, evaluate, plan_jacobian
from jaccli.plan.reduce_index import Reduction, Vectors, index_map, reduced_shape, triangular, vector
from jaccli.plan.retarget import Group, evaluate_groups, retarget
from jaccli.textkit import item_path

KINDS = ("det", "logabsdet", "trace", "diag")


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

    @property
    def example_shape(self) -> tuple[int, ...]:
        return self.shape

    def layout(self) -> list[str]:
        return ["batch"] + self.names

    def work_per_example(self) -> int:
        size = int(np.prod(self.shape, dtype=np.int64))
        if self.dense:
            return size + super().work_per_example()
        diagonal = _det_count(self) * self.block if self.reduction.kind in ("det", "logabsdet") else 0
        return 2 * size + diagonal + sum(g.work for g in self.groups)

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

    def evaluate(self, arrays: Mapping[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        b = next(iter(arrays.values())).shape[0]
        result = np.zeros((b,) + self.shape, self.dtype) if out is None else out
        kind = self.reduction.kind
        if self.dense:
            full = evaluate(self, arrays)  # the engine's full result of this chunk: (b, *T, *S^k)
            _determinant(full.reshape(b, _det_count(self), self.block, self.block), kind, result)
        else:
            flats = {k: np.ascontiguousarray(a).reshape(b, -1) for k, a in arrays.items()}
            flats.update(self.param_rows)  # -P arrays as (1, n) rows, as the engine reads them
            if kind in ("det", "logabsdet"):
                diagonal = np.zeros((b, _det_count(self), self.block), self.dtype)
                evaluate_groups(self.groups, flats, diagonal.reshape(b, -1))
                _determinant_of_diagonal(diagonal, kind, result)
            else:
                evaluate_groups(self.groups, flats, result.reshape(b, -1))
        _nan_rule(self, arrays, result)
        nan = np.isnan(result)
        if nan.any():  # one NaN bit pattern, as the engine writes: output bytes must not depend on the path
            result[nan] = np.nan
        return result


def _nan_rule(plan: ReducedPlan, arrays: Mapping[str, np.ndarray], result: np.ndarray) -> None:
    """``plan/nanrule.py`` carried through the reduction: a component whose value is nan has nan derivatives, so
    whatever is reduced from them is nan too (a whole example's det, trace at order 1 and vjp; else its row)."""
    if plan.value is None or not (plan.nan_prone or nanrule.inputs_hold_nan(dict(arrays))):
        return
    value = evaluate(Plan(plan.expression, plan.tape, plan.value, plan.dtype, plan.scope), arrays)
    value = nanrule.checked(value, arrays, plan.nan_prone)
    b = value.shape[0]
    nan = np.isnan(value.reshape(b, -1))
    if not nan.any():
        return
    r = plan.reduction
    if r.vjp or (r.kind in ("trace", "det", "logabsdet") and plan.derivative.order == 1):
        result[nan.any(axis=1)] = np.nan
    elif r.kind == "logabsdet":
        result.reshape(b, 2, nan.shape[1], -1)[np.repeat(nan[:, None, :], 2, axis=1)] = np.nan
    else:  # the target's axes lead the result (order-1 diag: its index is the target's)
        result.reshape(b, nan.shape[1], -1)[nan] = np.nan


def _ranges(shape: tuple[int, ...], axis: int) -> str:
    return ",".join(f"0..{n - 1}" if a == axis else ":" for a, n in enumerate(shape))


def _det_count(plan: ReducedPlan) -> int:
    """How many determinants one example has (the size of the leading axes of the result)."""
    size = int(np.prod(plan.shape, dtype=np.int64))
    return size // 2 if plan.reduction.kind == "logabsdet" else size


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
    if reduction.kind is not None and reduction.kind not in KINDS:
        guess = did_you_mean(str(reduction.kind), KINDS)
        raise UsageError(f"unknown reduction '{reduction.kind}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                         hint="choose one of " + ", ".join(KINDS))
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


def csv_header(plan: Plan) -> list[str] | None:
    """CSV cells for a logabsdet result: two column groups, ``sign...`` then ``logabsdet...``; else None."""
    if not isinstance(plan, ReducedPlan) or plan.reduction.kind != "logabsdet":
        return None
    rest = plan.shape[1:]
    suffixes = [item_path(index) for index in np.ndindex(*rest)] if rest else [""]
    return [f"{name}{suffix}" for name in ("sign", "logabsdet") for suffix in suffixes]
