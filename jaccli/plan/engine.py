"""Plans evaluated over batches: gather slot inputs, evaluate each template's kernel, scatter into ``(b, *T, *S^k)``.

``plan_jacobian`` is the whole symbolic half (parse -> tape -> derive -> kernels), done once per run.
``evaluate`` is the numeric half, done once per chunk of examples; it never mixes examples, so any chunking
(``--parallel-iterations``) and the per-example loop (``--no-pfor``) give bit-identical results.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, TypeVar

import numpy as np

from jaccli.errors import UsageError
from jaccli.limits import MAX_ORDER
from jaccli.plan import compiled as numeric
from jaccli.plan.chunking import chunk_rows

if TYPE_CHECKING:  # the symbolic half is imported when planning, so that a cached plan evaluates without SymPy
    from jaccli.expr.program import ExpressionText
    from jaccli.expr.trace import Scope, Tape
    from jaccli.plan.derive import Derivative


@dataclass
class Plan:
    """A symbolic plan (tape and SymPy derivative) and, built from it on first use, its numeric ``compiled``
    form, which is all that evaluation needs (and what the plan cache stores)."""

    expression: str
    tape: Tape
    derivative: Derivative
    dtype: np.dtype
    scope: Scope
    value: Derivative | None = None  # the target's value (order 0), for the nan rule (plan/nanrule.py)
    nan_prone: bool = False  # can the value be nan for finite inputs? then every chunk checks it
    _compiled: numeric.Compiled | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def compiled(self) -> numeric.Compiled:
        if self._compiled is None:
            leaves = {k: int(np.prod(v, dtype=np.int64)) for k, v in self.scope.arrays.items()}
            # Shared parameters as (1, n) rows in the plan's dtype: slots gathered from them are (1, L) and
            # broadcast against the batch's (b, L) in the kernel. Made once per plan, never copied per chunk.
            params = {k: np.ascontiguousarray(v, dtype=self.dtype).reshape(1, -1) for k, v in self.scope.params.items()}
            value = None if self.value is None else numeric.from_derivative(self.value, self.expression, self.dtype,
                                                                             leaves, params=params)
            layout = () if self.derivative.orders else tuple(self.layout())  # several orders: OrdersPlan names them
            self._compiled = numeric.from_derivative(self.derivative, self.expression, self.dtype, leaves, value,
                                                     self.nan_prone, params, layout)
        return self._compiled

    @property
    def param_rows(self) -> dict[str, np.ndarray]:
        """Shared parameters as ``(1, n)`` rows in the plan's dtype (they live in the compiled plan)."""
        return self.compiled.params

    @property
    def example_shape(self) -> tuple[int, ...]:
        """Per-example result shape ``(*T, *S, ..., *S)``."""
        return self.derivative.shape

    @property
    def connected(self) -> bool:
        return self.derivative.connected

    def layout(self) -> list[str]:
        """Axis names of the full result ``(B, *T, *S^k)``, e.g. ``['batch', 'target.0', 'x.0:d1']``."""
        d = self.derivative
        names = ["batch"] + [f"target.{i}" for i in range(len(d.target_shape))]
        for k in range(1, d.order + 1):
            if d.source.segments:  # --wrt a,b: one axis, named by its parts and their ranges in it
                names.append("+".join(f"{g.name}[{g.offset}:{g.offset + g.size}]" for g in d.source.segments)
                             + f":d{k}")
                continue
            names += [f"{d.source.name}.{i}:d{k}" for i in range(len(d.source.shape))]
        return names

    def evaluate(self, arrays: Mapping[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        """One chunk -> ``(b, *example_shape)``; a reduced plan (``reduce.ReducedPlan``) computes less."""
        return evaluate(self, arrays, out)

    def work_per_example(self) -> int:
        return self.compiled.work_per_example()

    def calls_per_chunk(self) -> int:
        return self.compiled.calls_per_chunk()

    def chunk_size(self, parallel_iterations: int | None) -> int:
        return chunk_rows(self, parallel_iterations)  # self: a reduced plan counts its own work per example


T = TypeVar("T")
AnyPlan = Plan | numeric.Compiled  # what evaluation accepts: a fresh plan, or one loaded from the cache


def resolve_dtype(requested: str, source_dtype: np.dtype) -> np.dtype:
    """``auto``: float32 stays float32 (float16 widens to it); float64, integers and text data give float64."""
    if requested == "auto":
        return np.dtype(np.float32) if np.dtype(source_dtype) in (np.float16, np.float32) else np.dtype(np.float64)
    if requested not in ("float32", "float64"):
        raise UsageError(f"unknown dtype '{requested}'", hint="choose auto, float32 or float64")
    return np.dtype(requested)


def plan_jacobian(expression: str | ExpressionText, scope: Scope, order: int, dtype: np.dtype, *,
                  full: bool = True) -> Plan:
    """Parse, build the tape and derive: everything that does not depend on the data values.

    ``expression`` is the text, or ``@PATH`` of an expression file. ``order=0`` plans the target's value (used by
    ``--verify``); the CLI and API ask for 1 or more. ``full=False``: the full result is never formed
    (``plan/reduce.py``), so its size limit does not apply.
    """
    from jaccli.expr.program import load_expression, parse_text
    from jaccli.expr.trace import build_tape
    from jaccli.plan import nanrule
    from jaccli.plan.derive import derive

    if order < 0:
        raise UsageError(f"--order must be 1 or more, got {order}",
                         hint="e.g. --order 1 (Jacobian), --order 2 (Hessian)")
    if order > MAX_ORDER:  # before anything grows with it (k! orderings, n**k values, depth**k terms)
        shown = str(order) if order < 10**30 else f"{str(order)[:12]}... ({len(str(order))} digits)"
        raise UsageError(f"--order {shown} is too large (at most {MAX_ORDER})",
                         hint=f"orders above {MAX_ORDER} are refused: sizes grow like n**k and symbolic "
                              "work like depth**k")
    text = load_expression(expression)
    tape = build_tape(parse_text(text), scope, text.text, text.label)
    if full:
        _check_result_size(tape, order)
    try:
        value = derive(tape, 0) if order >= 1 and tape.target.size else None
        derivative = derive(tape, order)
    except RecursionError:  # a backstop: the syntax-depth limit keeps SymPy's recursion inside the stack
        raise UsageError("the expression is nested too deeply for the symbolic derivative",
                         hint="simplify the expression or lower --order") from None
    return Plan(text.text, tape, derivative, np.dtype(dtype), scope, value, nanrule.may_be_nan(tape.target))


MAX_AXES = 64  # NumPy's limit
MAX_EXAMPLE_VALUES = 1 << 32  # per example; beyond it no machine holds even one example's result


def _check_result_size(tape: Tape, order: int) -> None:
    """Refuse an order whose result cannot exist, before any symbolic or numeric work (sizes in logarithms)."""
    source, target = tape.source, tape.target
    axes = 1 + len(target.shape) + order * len(source.shape)
    if target.size == 0 or source.size == 0:
        return  # an empty result: nothing to hold
    log2_values = math.log2(target.size) + order * math.log2(source.size)
    if axes > MAX_AXES or log2_values > math.log2(MAX_EXAMPLE_VALUES):
        values = f"about 2**{log2_values:.0f}" if log2_values > 53 else str(target.size * source.size**order)
        raise UsageError(f"--order {order}: the result would have {axes} axes and {values} values per example",
                         hint=f"the limits are {MAX_AXES} axes and {MAX_EXAMPLE_VALUES} values per example")


def evaluate(plan: AnyPlan, arrays: Mapping[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
    """One chunk: ``arrays[name]`` of shape ``(b, *event)`` in the plan's dtype -> result ``(b, *T, *S^k)``.

    ``out``, if given, is a zero-filled C-contiguous ``(b, *T, *S^k)`` array to fill (the API's whole result, one
    slice per chunk: no copy of a multi-gigabyte result at the end).
    """
    return numeric.evaluate(plan.compiled, arrays, out)


def evaluate_chunk(plan: AnyPlan, chunk: Mapping[str, np.ndarray], *, pfor: bool = True,
                   out: np.ndarray | None = None) -> np.ndarray:
    """``evaluate`` after conversion to the plan's dtype; ``pfor=False`` loops one example at a time (TF's
    ``experimental_use_pfor=False``), bit-identical because no NumPy call ever mixes examples."""
    arrays = {k: np.asarray(v, dtype=plan.dtype) for k, v in chunk.items()}
    if pfor:
        return plan.evaluate(arrays, out)
    b = next(iter(arrays.values())).shape[0]
    result = np.zeros((b,) + plan.example_shape, plan.dtype) if out is None else out
    for i in range(b):
        plan.evaluate({k: v[i:i + 1] for k, v in arrays.items()}, result[i:i + 1])
    return result


def evaluate_scanned(plan: AnyPlan, chunks: Iterable[Mapping[str, np.ndarray]], scan: Callable[[np.ndarray], T], *,
                     pfor: bool = True, threads: int = 1) -> Iterator[tuple[np.ndarray, T]]:
    """Results chunk by chunk, each ``(b, *T, *S^k)`` with ``scan(result)`` (e.g. counting non-finite values), in
    order; ``threads > 1`` evaluates chunks (and scans them) in a pool."""
    from jaccli.plan.parallel import ordered_map

    def work(chunk: Mapping[str, np.ndarray]) -> tuple[np.ndarray, T]:
        out = evaluate_chunk(plan, chunk, pfor=pfor)
        return out, scan(out)

    yield from ordered_map(work, chunks, threads)
