"""The Python face of jaccli: ``batch_jacobian``, the same path the CLI takes, on NumPy arrays."""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from jaccli.plan.chunking import chunk_rows, useful_threads
from jaccli.expr.scope import make_scope
from jaccli.plan.engine import Plan, evaluate_chunk, resolve_dtype
from jaccli.plan.parallel import ordered_map, thread_count
from jaccli.plan.reduce import Reduction, plan_reduced
from jaccli.errors import UsageError
from jaccli.limits import check_result_bytes, result_limit
from jaccli.expr.program import ExpressionText, load_expression
from jaccli.io.inputs import Batch, batch_from_arrays
from jaccli.io.params import check_param
from jaccli.plan.orders import OrdersPlan, plan_orders, source_dtype

ArrayInput = np.ndarray | Mapping[str, np.ndarray]
# Hints shared with jaccli.dask.batch_jacobian, which checks the same arguments.
UNCONNECTED_HINT = "unconnected='zero' gives zeros for a target that does not use the source; 'none' gives None"
NAMES_HINT = "pass a 2-D array (B, n) and n names, one per column, e.g. names=['r', 'theta']"
ORDER_HINT = "e.g. order=1 (Jacobian), order=2 (Hessian)"


def _typed(constants: Mapping[str, Any]) -> tuple:
    """Constants as a key of ``_plan``'s cache: ``2 == 2.0`` and ``0.0 == -0.0`` (equal hashes too), yet they are
    different plans (an int exponent stays exact; the sign of zero reaches atan2), so the type and the repr take
    part, as in the disk cache's key (``plan/cache.py``)."""
    return tuple((name, type(value).__name__, repr(value), value) for name, value in constants.items())


def _untyped(constants: tuple) -> dict[str, Any]:
    return {name: value for name, _, _, value in constants}


@lru_cache(maxsize=64)
def _plan(expression: ExpressionText, shapes: tuple, scalars: tuple, defines: tuple, names: tuple | None,
          row: str, wrt: str, order: int | tuple[int, ...], dtype: str,
          params: "_Params", reduction: Reduction = Reduction()) -> Plan | OrdersPlan:
    """The symbolic half, cached: a loop calling ``batch_jacobian`` on same-shaped batches derives once.

    Plans are never mutated after planning, so sharing them between calls is safe. A tuple ``order`` plans
    several orders at once (``plan.orders``)."""
    arrays = {k: shape for k, shape, _ in shapes}
    scope = make_scope(arrays, scalars=_untyped(scalars), defines=_untyped(defines),
                       columns=list(names) if names else None, row=row, wrt=wrt, params=params.arrays)
    dtypes = {k: np.dtype(d) for k, _, d in shapes}
    if isinstance(order, tuple):
        if reduction.active:
            raise UsageError(f"{reduction.label()} applies to one order, not to several ({order!r})",
                             hint="run each order on its own")
        return plan_orders(expression, scope, order, resolve_dtype(dtype, source_dtype(scope, dtypes)))
    return plan_reduced(expression, scope, order, resolve_dtype(dtype, source_dtype(scope, dtypes)), reduction)


class _Params:
    """Shared parameters as a cache key: equal when names, shapes, dtypes and bytes are equal."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.key = tuple((k, a.shape, a.dtype.str, a.tobytes()) for k, a in sorted(arrays.items()))

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Params) and self.key == other.key


def _split_constants(constants: Mapping[str, object], params: Mapping[str, object],
                     allow_nonfinite: bool) -> tuple[dict, dict[str, np.ndarray]]:
    """Scalars stay ``-D``-like constants; arrays (from ``constants`` or ``params``) are shared parameters."""
    defines: dict = {}
    arrays: dict[str, np.ndarray] = {}
    for source, items in (("constants", constants), ("params", params)):
        for k, v in items.items():
            if k in defines or k in arrays:
                raise UsageError(f"'{k}' is given twice (constants and params)",
                                 hint="give each name once: a scalar in constants, an array in params")
            if isinstance(v, (str, bytes)) or v is None or (isinstance(v, np.ndarray) and v.dtype.kind not in "biuf"):
                raise UsageError(f"{source}['{k}'] is {type(v).__name__} {v!r:.40}, not a number or array of numbers",
                                 hint="pass numbers (int, float) or numeric NumPy arrays")
            try:
                array = np.asarray(v, dtype=np.float64) if not isinstance(v, np.ndarray) else v
            except (TypeError, ValueError):
                raise UsageError(f"{source}['{k}'] is not a number or array of numbers",
                                 hint="pass numbers (int, float) or numeric NumPy arrays") from None
            if array.ndim == 0 and source == "constants":
                defines[k] = v if isinstance(v, int) and not isinstance(v, bool) else float(array)
                continue
            arrays[k] = check_param(k, array, allow_nonfinite)
    return defines, arrays


def _orders(order: int | Sequence[int]) -> int | tuple[int, ...]:
    """``order`` checked: an int 1 or more, or a sequence of distinct ints 0 or more (several orders)."""
    if isinstance(order, Sequence) and not isinstance(order, str):
        orders = tuple(order)
        if not orders or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in orders) \
                or len(set(orders)) != len(orders):
            raise UsageError(f"order must be distinct integers, 0 or more, not {order!r}",
                             hint="e.g. order=(0, 1, 2) for the value, the Jacobian and the Hessian")
        return orders
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise UsageError(f"order must be an integer, 1 or more (or a tuple of orders, 0 for the value), "
                         f"not {order!r}", hint=ORDER_HINT)
    return order


def batch_jacobian(expression: str, x: ArrayInput, order: int | Sequence[int] = 1, *,
                   wrt: str | Sequence[str] = "x",
                   constants: Mapping[str, object] | None = None, names: list[str] | None = None,
                   unconnected: str = "none", dtype: str = "auto", parallel_iterations: int | None = None,
                   pfor: bool = True, allow_nonfinite: bool = False,
                   params: Mapping[str, object] | None = None, reduce: str | None = None,
                   jvp: str | None = None, vjp: str | None = None, threads: int | None = None,
                   max_output_bytes: int | None = None) -> Any:
    """Per-example k-th derivative of ``expression`` w.r.t. ``wrt``: shape ``(B, *T, *S, ..., *S)``.

    ``x`` is one array (batch first; it is named ``wrt``) or a mapping of named arrays (``wrt`` picks the source,
    the others are per-example constants; 0-d entries are scalars). ``names`` name the columns of a 2-D ``x``
    like a CSV header; ``wrt`` may then name one column. ``constants`` are the CLI's ``-D`` scalars; ``params``
    (and array-valued ``constants``) are the CLI's ``-P`` arrays, shared by every example, no batch axis. A
    target that does not reference the source gives ``None`` (``unconnected='zero'``: zeros). ``expression``
    may be ``'@path'``: an expression file. ``threads`` evaluates chunks in parallel (default ``JACCLI_THREADS``,
    else the cores available); results are bit-identical.

    Several sources, ``wrt=("a", "b")``: the derivative is taken w.r.t. their flattened concatenation,
    ``S = (n_a + n_b,)`` (order 2 is the block Hessian with its cross terms). Several orders, ``order=(0, 1, 2)``:
    a dict ``{0: value, 1: jacobian, 2: hessian}`` computed in one pass (order 0, the value, has shape ``(B, *T)``).

    ``reduce`` ('det', 'logabsdet', 'trace', 'diag'), ``jvp`` and ``vjp`` (names of arrays of ``x``) give what
    the CLI's ``--reduce``, ``--jvp`` and ``--vjp`` give; ``reduce='logabsdet'`` returns ``(sign, logabsdet)``,
    as ``numpy.linalg.slogdet`` does. A result larger than ``max_output_bytes`` (default: half the available
    memory) is refused with a ``UsageError`` before any work.

    >>> batch_jacobian("x*x*x", np.array([[4., 2.], [1., 3.]]))[0]
    array([[48.,  0.],
           [ 0., 12.]])
    """
    order = _orders(order)
    if unconnected not in ("none", "zero"):
        raise UsageError(f"unconnected must be 'none' or 'zero', not {unconnected!r}", hint=UNCONNECTED_HINT)
    wrt = wrt if isinstance(wrt, str) else ",".join(wrt)
    batch, row = _input_batch(x, wrt, names, allow_nonfinite)
    defines, shared = _split_constants(constants or {}, params or {}, allow_nonfinite)
    shapes = tuple((k, spec.event_shape, spec.dtype.str) for k, spec in batch.arrays.items())
    plan = _plan(load_expression(expression), shapes, _typed(batch.scalars), _typed(defines),
                 tuple(names) if names is not None else None, row, wrt, order, dtype, _Params(shared),
                 Reduction(reduce, jvp, vjp))
    if isinstance(plan, OrdersPlan):
        return _several(plan, batch, unconnected, parallel_iterations, pfor, threads, max_output_bytes)
    if not plan.connected and unconnected == "none":
        for _ in batch.chunks(plan.chunk_size(parallel_iterations)):
            pass  # still refuse bad data, as the CLI does
        return None
    result = _evaluate(plan, batch, parallel_iterations, pfor, threads, max_output_bytes)
    if reduce == "logabsdet":
        return result[:, 0], result[:, 1]
    return result


def _input_batch(x: ArrayInput, wrt: str, names: list[str] | None, allow_nonfinite: bool) -> tuple[Batch, str]:
    """``x`` as a ``Batch``, and the name of the array the source lives in (``x`` when ``wrt`` names columns)."""
    parts = wrt.split(",")
    row = "x" if names and all(w.strip() in names for w in parts) else wrt
    if len(parts) > 1 and row == wrt and not isinstance(x, Mapping):
        raise UsageError(f"wrt={tuple(parts)!r} names several sources: pass a mapping of named arrays, "
                         "or names= for the columns of x",
                         hint="e.g. batch_jacobian(expr, {'a': a, 'b': b}, wrt=('a', 'b'))")
    # The same checks and chunking as a file: dtypes, batch sizes, empty input, non-finite values.
    batch = batch_from_arrays("input", dict(x) if isinstance(x, Mapping) else {row: x},
                              allow_nonfinite=allow_nonfinite)
    if names is not None:
        spec = batch.arrays.get(row)
        if isinstance(x, Mapping) or spec is None or spec.event_shape != (len(names),):
            raise UsageError("names need a 2-D array with one name per column", hint=NAMES_HINT)
    return batch, row


def _evaluate(plan: Plan, batch: Batch, parallel_iterations: int | None, pfor: bool,
              threads: int | None, max_output_bytes: int | None) -> np.ndarray:
    assert batch.size is not None  # in-memory arrays: batch_from_arrays always knows B
    check_result_bytes(batch.size, math.prod(plan.example_shape), plan.dtype.itemsize,
                       *result_limit(max_output_bytes, held=True))
    result = np.zeros((batch.size,) + plan.example_shape, plan.dtype)  # chunks fill slices: no copy at the end

    def fill(at: slice, chunk: Mapping[str, np.ndarray]) -> None:
        evaluate_chunk(plan, chunk, pfor=pfor, out=result[at])

    _fill_chunks(plan, batch, parallel_iterations, threads, fill)
    return result


def _fill_chunks(plan: Plan | OrdersPlan, batch: Batch, parallel_iterations: int | None, threads: int | None,
                 fill: Callable[[slice, Mapping[str, np.ndarray]], None]) -> None:
    """``fill(rows, chunk)`` for every chunk, on ``threads`` threads; each fills its own rows of the result."""
    assert batch.size is not None
    workers = thread_count(threads)
    step = chunk_rows(plan, parallel_iterations, batch.size, workers)
    workers = useful_threads(plan, step, workers)
    items = zip(range(0, batch.size, step), batch.chunks(step))
    for _ in ordered_map(lambda item: fill(slice(item[0], item[0] + step), item[1]), items, workers):
        pass


def _several(plan: OrdersPlan, batch: Batch, unconnected: str, parallel_iterations: int | None,
             pfor: bool, threads: int | None, max_output_bytes: int | None) -> dict[int, np.ndarray | None]:
    """``{k: result}`` for several orders, from one evaluation of every chunk (on ``threads`` threads)."""
    present = plan.present(unconnected)
    assert batch.size is not None
    check_result_bytes(batch.size, sum(math.prod(p.example_shape) for k, p in plan.parts.items() if present[k]),
                       plan.dtype.itemsize, *result_limit(max_output_bytes, held=True))
    result = {k: np.empty((batch.size,) + p.example_shape, plan.dtype) for k, p in plan.parts.items() if present[k]}

    def fill(at: slice, chunk: Mapping[str, np.ndarray]) -> None:
        for k, values in plan.split(plan.evaluate(chunk, pfor=pfor)).items():
            if k in result:
                result[k][at] = values  # one copy per chunk, while the chunk is still in cache

    _fill_chunks(plan, batch, parallel_iterations, threads, fill)
    return {k: result.get(k) for k in plan.orders}
