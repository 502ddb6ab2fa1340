"""Shapes and flat-index maps of ``--reduce``/``--jvp``/``--vjp`` (see ``plan/reduce.py`` for the table).

The full per-example result ``(*T, *S^k)`` is addressed by one flat C-order index ``F``. With ``n = size(S)``,
the last two axis groups of ``F`` are ``a = (F // n) % n`` and ``c = F % n`` (at order 1, ``a`` is the target's
flat index, as ``size(T) == n``), and everything before them is ``F // n**2``. A reduction is then a map of ``F``:
trace keeps ``a == c`` and sends it to ``F // n**2``; diag to ``F // n``; jvp sends every ``F`` to ``F // n`` with
the weight ``v[c]``, vjp to ``F % n**k`` with ``u[F // n**k]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jaccli.errors import UsageError, did_you_mean
from jaccli.expr.scope import Scope
from jaccli.plan.derive import Derivative
from jaccli.plan.engine import Plan
from jaccli.plan.retarget import Mapping

Vectors = dict[str, tuple[str, np.ndarray]]  # 'jvp'/'vjp' -> (leaf array, its flat element per position)


@dataclass(frozen=True)
class Reduction:
    """What to compute from the derivative: a ``kind`` of ``REDUCE_KINDS``, or contractions with named vectors."""

    kind: str | None = None
    jvp: str | None = None
    vjp: str | None = None

    def __post_init__(self) -> None:
        for option, name in (("--reduce", self.kind), ("--jvp", self.jvp), ("--vjp", self.vjp)):
            if name is not None and not isinstance(name, str):
                raise UsageError(f"{option} takes a name, not {name!r}",
                                 hint="name an array of the input or a -P parameter as a string, e.g. 'v'")

    @property
    def active(self) -> bool:
        return self.kind is not None or self.jvp is not None or self.vjp is not None

    def label(self) -> str:
        words = [f"--reduce {self.kind}" if self.kind else "", f"--jvp {self.jvp}" if self.jvp else "",
                 f"--vjp {self.vjp}" if self.vjp else ""]
        return " ".join(w for w in words if w)


def _values(n: int) -> str:
    return f"{n} value" + "s" * (n != 1)


def reduced_shape(plan: Plan, reduction: Reduction) -> tuple[tuple[int, ...], list[str]]:
    """The per-example result shape and its axis names; a reduction that does not fit the shapes is exit 2."""
    d = plan.derivative
    target, source, k, src = d.target_shape, d.source.shape, d.order, d.source.name
    full = Plan.layout(plan)  # the full result's names (several sources name their one axis by its parts)
    t_names = full[1:1 + len(target)]

    def d_names(j: int) -> list[str]:
        start = 1 + len(target) + (j - 1) * len(source)
        return full[start:start + len(source)]

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
        last = [name.rpartition(":")[0] + (":diag" if k == 1 else f":d{k - 1}=d{k}") for name in d_names(k)]
        return lead + source, lead_names + last
    if kind == "logabsdet":
        return (2,) + lead, ["slogdet"] + lead_names
    return lead, lead_names


def vector(scope: Scope, name: str, shape: tuple[int, ...], option: str, what: str) -> tuple[str, np.ndarray]:
    """The per-example array ``name`` as (leaf, flat element per position); its event shape must be ``shape``."""
    if name in scope.columns:
        leaf, i = scope.columns[name]
        have: tuple[int, ...] = ()
        elements = np.array([i], np.int64)
    elif name in scope.arrays or name in scope.params:  # per-example, or shared by every example (-P)
        leaf = name
        have = scope.arrays[name] if name in scope.arrays else tuple(np.shape(scope.params[name]))
        elements = np.arange(int(np.prod(have, dtype=np.int64)), dtype=np.int64)
    else:
        known = sorted(set(scope.arrays) | set(scope.columns) | set(scope.params))
        guess = did_you_mean(name, known)
        raise UsageError(f"{option} {name}: the input has no array named '{name}'"
                         + (f" (did you mean '{guess}'?)" if guess else ""),
                         hint="the vector is an array of the input (an NPZ or JSON-object member) or a shared "
                              "-P parameter; inputs: " + ", ".join(known))
    if tuple(have) != tuple(shape):
        kind = "shape" if name in scope.params else "event shape"
        raise UsageError(f"{option} {name}: '{name}' has {kind} {tuple(have)}, but {what} has shape {shape}",
                         hint=f"{option} needs a vector shaped like {what} (one per example, or a shared -P array)")
    return leaf, elements


def triangular(d: Derivative, n: int) -> bool:
    """True when every placement lands on one side of (or on) the diagonal of the last two axis groups."""
    if n == 0:
        return True
    lower = upper = True
    for prog in d.programs:
        for pl in prog.placements:
            a, c = (pl.flat // n) % n, pl.flat % n
            lower = lower and bool((a >= c).all())
            upper = upper and bool((a <= c).all())
    return lower or upper


def index_map(kind: str | None, weights: dict[str, tuple[str, np.ndarray]], n: int, k: int) -> Mapping:
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
