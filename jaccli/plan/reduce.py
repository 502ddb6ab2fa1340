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
from typing import Mapping, Optional

import numpy as np

from jaccli.errors import UsageError, did_you_mean
from jaccli.expr.trace import Scope
from jaccli.plan import nanrule
from jaccli.plan.derive import Derivative
from jaccli.plan.engine import MAX_AXES, MAX_EXAMPLE_VALUES, Plan, _check_result_size, evaluate, plan_jacobian
from jaccli.plan.retarget import Group, Mapping as Mapping_, evaluate_groups, retarget

KINDS = ("det", "logabsdet", "trace", "diag")


@dataclass(frozen=True)
class Reduction:
    """What to compute from the derivative: a ``kind`` of KINDS, or contractions with named vectors."""

    kind: Optional[str] = None
    jvp: Optional[str] = None
    vjp: Optional[str] = None

    @property
    def active(self) -> bool:
        return self.kind is not None or self.jvp is not None or self.vjp is not None

    def label(self) -> str:
        words = [f"--reduce {self.kind}" if self.kind else "", f"--jvp {self.jvp}" if self.jvp else "",
                 f"--vjp {self.vjp}" if self.vjp else ""]
        return " ".join(w for w in words if w)


@dataclass
class ReducedPlan(Plan):
    """A plan whose per-example result is a reduction of the derivative (``derivative`` stays the full one)."""

    reduction: Reduction = Reduction()
    shape: tuple[int, ...] = ()
    names: list[str] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)  # the linear path (det/logabsdet: the diagonal, if triangular)
    dense: bool = False  # det/logabsdet of full blocks, chunk by chunk
    block: int = 0  # n: the side of the square blocks det/logabsdet/trace/diag work on

    @property
    def example_shape(self) -> tuple[int, ...]:
        return self.shape

    def layout(self) -> list[str]:
        return ["batch"] + self.names

    def work_per_example(self) -> int:
        size = int(np.prod(self.shape, dtype=np.int64))
        if self.dense:
            return size + super().work_per_example()
        return 2 * size + sum(g.work for g in self.groups)

    def axis_rows(self, y: str) -> list[tuple[str, str]]:
        """(size, meaning) of every axis of the result, for ``--layout``."""
        d = self.derivative
        src = d.source.name
        rows = [("B", "examples, never mixed")]
        for name, size in zip(self.names, self.shape):
            what, _, tail = name.partition(":")
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

    def evaluate(self, arrays: Mapping[str, np.ndarray], out: Optional[np.ndarray] = None) -> np.ndarray:
        b = next(iter(arrays.values())).shape[0]
        result = np.zeros((b,) + self.shape, self.dtype) if out is None else out
        kind = self.reduction.kind
        if self.dense:
            full = evaluate(self, arrays)  # the engine's full result of this chunk: (b, *T, *S^k)
            _determinant(full.reshape(b, _det_count(self), self.block, self.block), kind, result)
        elif kind in ("det", "logabsdet"):
            diagonal = np.zeros((b, _det_count(self), self.block), self.dtype)
            flats = {k: np.ascontiguousarray(a).reshape(b, -1) for k, a in arrays.items()}
            evaluate_groups(self.groups, flats, diagonal.reshape(b, -1))
            _determinant_of_diagonal(diagonal, kind, result)
        else:
            flats = {k: np.ascontiguousarray(a).reshape(b, -1) for k, a in arrays.items()}
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


def _values(n: int) -> str:
    return f"{n} value" + "s" * (n != 1)


def _ranges(shape: tuple[int, ...], axis: int) -> str:
    return ",".join(f"0..{n - 1}" if a == axis else ":" for a, n in enumerate(shape))


def _det_count(plan: ReducedPlan) -> int:
    """How many determinants one example has (the size of the leading axes of the result)."""
    size = int(np.prod(plan.shape, dtype=np.int64))
    return size // 2 if plan.reduction.kind == "logabsdet" else size


def _determinant(blocks: np.ndarray, kind: Optional[str], result: np.ndarray) -> None:
    """``det`` or ``slogdet`` of blocks ``(b, P, n, n)`` into ``result`` (``(b, *R)`` or ``(b, 2, *R)``)."""
    b = blocks.shape[0]
    with np.errstate(all="ignore"):
        if kind == "det":
            result.reshape(b, -1)[:] = np.linalg.det(blocks)
        else:
            sign, logabs = np.linalg.slogdet(blocks)
            pair = result.reshape(b, 2, -1)
            pair[:, 0], pair[:, 1] = sign, logabs


def _determinant_of_diagonal(diagonal: np.ndarray, kind: Optional[str], result: np.ndarray) -> None:
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
def plan_reduced(expression: str, scope: Scope, order: int, dtype: np.dtype, reduction: Reduction) -> Plan:
    """``engine.plan_jacobian``, then ``reduce_plan``. The full result's size limit applies only when the full
    blocks are formed: the Laplacian of 100 000 features has a 10**10-value Hessian, but needs none of it."""
    return reduce_plan(plan_jacobian(expression, scope, order, dtype, full=not reduction.active), reduction)


def reduce_plan(plan: Plan, reduction: Reduction) -> Plan:
    """``plan`` (the full derivative) turned into the reduced one; ``plan`` itself if nothing is asked for."""
    if not reduction.active:
        return plan
    if reduction.kind is not None and reduction.kind not in KINDS:
        guess = did_you_mean(reduction.kind, KINDS)
        raise UsageError(f"unknown reduction '{reduction.kind}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                         hint="choose one of " + ", ".join(KINDS))
    if reduction.kind is not None and (reduction.jvp or reduction.vjp):
        raise UsageError(f"{reduction.label()}: --reduce cannot be combined with --jvp or --vjp",
                         hint="run them separately")
    d = plan.derivative
    target, source, k = d.target_shape, d.source.shape, d.order
    n = d.source.size
    shape, names = _reduced_shape(plan, reduction)
    axes, values = 1 + len(shape), int(np.prod(shape, dtype=np.int64))
    if axes > MAX_AXES or values > MAX_EXAMPLE_VALUES:
        raise UsageError(f"{reduction.label()}: the result would have {axes} axes and {values} values per example",
                         hint=f"the limits are {MAX_AXES} axes and {MAX_EXAMPLE_VALUES} values per example")
    weights = {}
    if reduction.jvp:
        weights["jvp"] = _vector(plan.scope, reduction.jvp, source, "--jvp", f"the source {d.source.name}")
    if reduction.vjp:
        weights["vjp"] = _vector(plan.scope, reduction.vjp, target, "--vjp", "the target")
    kind = reduction.kind
    dense = False
    if kind in ("det", "logabsdet"):
        dense = not _triangular(d, n)
        kind = "diag"
    if dense:
        _check_result_size(plan.tape, k)  # the full blocks are formed, one chunk at a time
        groups = []
    else:
        groups = retarget(d, _mapping(kind, weights, n, k))
    return ReducedPlan(plan.expression, plan.tape, d, plan.dtype, plan.scope, plan.value, plan.nan_prone,
                       reduction=reduction, shape=shape, names=names, groups=groups, dense=dense, block=n)


def _reduced_shape(plan: Plan, reduction: Reduction) -> tuple[tuple[int, ...], list[str]]:
    """The per-example result shape and its axis names; a reduction that does not fit the shapes is exit 2."""
    d = plan.derivative
    target, source, k, src = d.target_shape, d.source.shape, d.order, d.source.name
    t_names = [f"target.{i}" for i in range(len(target))]

    def d_names(j: int) -> list[str]:
        return [f"{src}.{i}:d{j}" for i in range(len(source))]

    kind = reduction.kind
    if kind is None:
        contracted_t = reduction.vjp is not None
        contracted_s = reduction.jvp is not None
        shape = (() if contracted_t else target) + source * (k - contracted_s)
        names = ([] if contracted_t else t_names) + [n for j in range(1, k + 1 - contracted_s) for n in d_names(j)]
        return shape, names
    if k == 1 and d.size != d.source.size**2:
        raise UsageError(f"--reduce {kind} needs a square Jacobian, but the target has shape {target} "
                         f"({_values(int(np.prod(target, dtype=np.int64)))}) and the source {src} has shape "
                         f"{source} ({_values(d.source.size)})",
                         hint="at order 1 the target and the source must have as many values; "
                              "at order 2 the reduction applies to the Hessian of each target value")
    lead = () if k == 1 else target + source * (k - 2)
    lead_names = [] if k == 1 else t_names + [n for j in range(1, k - 1) for n in d_names(j)]
    if kind == "diag":
        last = [f"{src}.{i}:diag" for i in range(len(source))] if k == 1 else \
            [f"{src}.{i}:d{k - 1}=d{k}" for i in range(len(source))]
        return lead + source, lead_names + last
    if kind == "logabsdet":
        return (2,) + lead, ["slogdet"] + lead_names
    return lead, lead_names


def _vector(scope: Scope, name: str, shape: tuple[int, ...], option: str, what: str) -> tuple[str, np.ndarray]:
    """The per-example array ``name`` as (leaf, flat element per position); its event shape must be ``shape``."""
    if name in scope.columns:
        leaf, i = scope.columns[name]
        have: tuple[int, ...] = ()
        elements = np.array([i], np.int64)
    elif name in scope.arrays:
        leaf, have = name, scope.arrays[name]
        elements = np.arange(int(np.prod(have, dtype=np.int64)), dtype=np.int64)
    else:
        known = sorted(set(scope.arrays) | set(scope.columns))
        guess = did_you_mean(name, known)
        raise UsageError(f"{option} {name}: the input has no array named '{name}'"
                         + (f" (did you mean '{guess}'?)" if guess else ""),
                         hint="the vector is a per-example array of the input (an NPZ or JSON-object member); "
                              "inputs: " + ", ".join(known))
    if tuple(have) != tuple(shape):
        raise UsageError(f"{option} {name}: '{name}' has event shape {tuple(have)}, but {what} has shape {shape}",
                         hint=f"{option} needs one vector per example shaped like {what}")
    return leaf, elements


def _triangular(d: Derivative, n: int) -> bool:
    """True when every placement lands on one side of (or on) the diagonal of the last two axis groups."""
    lower = upper = True
    for prog in d.programs:
        for pl in prog.placements:
            a, c = (pl.flat // n) % n, pl.flat % n
            lower = lower and bool((a >= c).all())
            upper = upper and bool((a <= c).all())
    return lower or upper


def _mapping(kind: Optional[str], weights: dict[str, tuple[str, np.ndarray]], n: int, k: int) -> Mapping_:
    """The flat-index map of a linear reduction (see ``retarget.Mapping``)."""
    nk = n**k

    def trace_or_diag(flat: np.ndarray):
        prefix, a, c = flat // (n * n), (flat // n) % n, flat % n
        index = prefix * n + a if kind == "diag" else prefix
        return a == c, index, []

    def contract(flat: np.ndarray):
        index = flat
        found = []
        if "jvp" in weights:
            leaf, elements = weights["jvp"]
            found.append((leaf, elements[flat % n]))
            index = index // n
        if "vjp" in weights:
            leaf, elements = weights["vjp"]
            found.append((leaf, elements[flat // nk]))
            index = index % (nk // n if "jvp" in weights else nk)
        return np.ones(len(flat), bool), index, found

    if n == 0:  # an empty source: nothing lands anywhere
        return lambda flat: (np.zeros(len(flat), bool), flat, [])
    return contract if kind is None else trace_or_diag


def csv_header(plan: Plan) -> Optional[list[str]]:
    """CSV cells for a logabsdet result: two column groups, ``sign...`` then ``logabsdet...``; else None."""
    if not isinstance(plan, ReducedPlan) or plan.reduction.kind != "logabsdet":
        return None
    rest = plan.shape[1:]
    suffixes = ["".join(f"[{i}]" for i in index) for index in np.ndindex(*rest)] if rest else [""]
    return [f"{name}{suffix}" for name in ("sign", "logabsdet") for suffix in suffixes]
