"""``jaccli.dask.batch_jacobian``: the batch Jacobian of a ``dask.array`` as a lazy ``dask.array``.

Planning (parse, tape, SymPy) happens once, here on the client, through the same cached planner as
``jaccli.batch_jacobian``. The graph then holds one key with the shipped numeric plan (``ship.py``), which
every block task depends on: Dask moves it to each worker once, not once per task. One task per input block
evaluates ``blocks.jacobian_block``; the result keeps the input's chunks along the batch axis and has one chunk
along every other axis.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from jaccli.errors import UsageError

INSTALL_HINT = "install the Dask extra: pip install 'jaccli[dask]'"


def require_dask() -> Any:
    """``dask.array``, or a usage error that says what to install (exit 2)."""
    try:
        import dask.array as da
    except ImportError:
        raise UsageError("the Dask engine needs dask, which is not installed", hint=INSTALL_HINT) from None
    return da


@dataclass
class Lazy:
    """A planned run: the plan (layout, dtype, shape) and the lazy result (None for a None result)."""

    plan: Any
    result: Any  # dask.array.Array | None
    size: int  # B
    inputs: dict  # the batched inputs as evaluated: name -> dask.array (B, *S), chunked like the result


def batch_jacobian(expression: str, x: Any, order: int = 1, *, wrt: str = "x",
                   constants: Mapping[str, object] | None = None, names: list[str] | None = None,
                   unconnected: str = "none", dtype: str = "auto", parallel_iterations: int | None = None,
                   pfor: bool = True, allow_nonfinite: bool = False, threads: int | None = None,
                   params: Mapping[str, object] | None = None) -> Any:
    """Per-example k-th derivative of ``expression``, lazily: a ``dask.array`` ``(B, *T, *S, ..., *S)``.

    ``x`` is a ``dask.array.Array`` (or NumPy array) with the batch on axis 0, or a mapping of them as
    ``jaccli.batch_jacobian`` takes (0-d entries are per-batch scalars). The result is chunked like the source
    along the batch axis and holds the same bytes as ``jaccli.batch_jacobian`` on the computed input. Input
    values are checked when blocks are computed (a non-finite value raises ``InputError`` then). A target that
    does not reference the source gives ``None`` right away (``unconnected='zero'``: zeros), without reading data.
    ``threads`` evaluates each block's chunks on that many threads (default 1: Dask already runs one task per
    worker thread); results are bit-identical for every value. Shared parameters (``params``, array-valued
    ``constants``) travel inside the shipped plan: once per worker, not once per task.

    >>> import dask.array as da
    >>> x = da.from_array(np.array([[4., 2.], [1., 3.]]), chunks=1)
    >>> batch_jacobian("x*x*x", x).compute()[1]
    array([[ 3.,  0.],
           [ 0., 27.]])
    """
    lazy = plan_lazy(expression, x, order, wrt=wrt, constants=constants, names=names, unconnected=unconnected,
                     dtype=dtype, parallel_iterations=parallel_iterations, pfor=pfor, allow_nonfinite=allow_nonfinite,
                     threads=threads, params=params)
    return lazy.result


def plan_lazy(expression: str, x: Any, order: int = 1, *, wrt: str = "x",
              constants: Mapping[str, object] | None = None, names: list[str] | None = None,
              unconnected: str = "none", dtype: str = "auto", parallel_iterations: int | None = None,
              pfor: bool = True, allow_nonfinite: bool = False, input_checked: bool = False, label: str = "input",
              block_values: int | None = None, threads: int | None = None,
              params: Mapping[str, object] | None = None,
              reopen: Callable[[int], dict[str, Any]] | None = None) -> Lazy:
    """``batch_jacobian`` for the CLI too: also returns the plan and inputs. ``input_checked``: the readers
    already refused non-finite values. ``block_values`` rechunks the batch axis to about that many input and
    result values per block (a multiple of the source's own chunks); ``reopen(rows)``, if given, reads the batched
    arrays again in blocks of ``rows`` straight from storage (no rechunking, so no block moves between workers)."""
    from jaccli.api import NAMES_HINT, ORDER_HINT, UNCONNECTED_HINT, _Params, _plan, _split_constants, _typed
    from jaccli.expr.program import load_expression
    from jaccli.plan.engine import Plan
    from jaccli.plan.parallel import thread_count

    da = require_dask()
    threads = 1 if threads is None else thread_count(threads)
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise UsageError(f"order must be an integer, 1 or more, not {order!r}", hint=ORDER_HINT)
    if unconnected not in ("none", "zero"):
        raise UsageError(f"unconnected must be 'none' or 'zero', not {unconnected!r}", hint=UNCONNECTED_HINT)
    if not isinstance(wrt, str) or "," in wrt:
        raise UsageError("jaccli.dask.batch_jacobian takes one source (wrt)", hint="use jaccli.batch_jacobian")
    row = "x" if names and wrt in names else wrt
    check_input = not (allow_nonfinite or input_checked)
    batched, scalars = _split(da, dict(x) if isinstance(x, Mapping) else {row: x}, label, not allow_nonfinite)
    if names is not None and (isinstance(x, Mapping) or row not in batched or batched[row].ndim != 2
                              or batched[row].shape[1] != len(names)):
        raise UsageError("names need a 2-D array with one name per column", hint=NAMES_HINT)
    defines, shared = _split_constants(constants or {}, params or {}, allow_nonfinite)
    shapes = tuple((k, tuple(a.shape[1:]), a.dtype.str) for k, a in batched.items())
    plan = _plan(load_expression(expression), shapes, _typed(scalars), _typed(defines),
                 tuple(names) if names is not None else None, row, wrt, order, dtype, _Params(shared))
    assert isinstance(plan, Plan)  # one order (checked above): one symbolic plan
    rows = _block_rows(batched, plan.scope.source().leaf, block_values, int(np.prod(plan.example_shape)))
    if reopen is not None and rows is not None:
        batched = {name: a for name, a in reopen(rows).items() if name in batched}
    batched = _aligned(batched, plan.scope.source().leaf, rows)
    first = next(iter(batched.values()))
    if not plan.connected and unconnected == "none":
        return Lazy(plan, None, int(first.shape[0]), batched)
    result = _graph(da, plan, batched, parallel_iterations, pfor, check_input, label, threads)
    return Lazy(plan, result, int(first.shape[0]), batched)


def _split(da: Any, arrays: Mapping[str, Any], label: str, check_input: bool) -> tuple[dict, dict]:
    """Batched arrays (as dask arrays) and 0-d scalars, with the dtype and batch-size checks of the local API."""
    from jaccli.io.inputs.batch import check_dtype, check_finite_scalar, common_batch_size, value_dtype

    batched, scalars = {}, {}
    for name, value in arrays.items():
        array = value if isinstance(value, da.Array) else np.asarray(value)
        check_dtype(np.dtype(array.dtype), f"{label}: array '{name}'")
        if array.ndim == 0:
            scalars[name] = float(np.asarray(array).astype(value_dtype(np.dtype(array.dtype))))
            if check_input:
                check_finite_scalar(scalars[name], label, name)
        else:
            batched[name] = array if isinstance(array, da.Array) else da.from_array(array)
    if any(np.isnan(a.shape[0]) for a in batched.values()):
        raise UsageError("the batch size is unknown (NaN chunks)", hint="call compute_chunk_sizes() on the input")
    common_batch_size(label, {name: a.shape for name, a in batched.items()})
    return batched, scalars


def _block_rows(batched: dict, source: str, block_values: int | None, result_size: int) -> int | None:
    """Examples per block for about ``block_values`` input and result values, in whole chunks of the source."""
    if block_values is None:
        return None
    first = batched[source].chunks[0][0]
    per_example = result_size + sum(int(np.prod(a.shape[1:], dtype=np.int64)) for a in batched.values())
    rows = max(1, block_values // max(1, per_example))
    return rows // first * first if rows >= first else rows  # whole chunks of the store: each read once


def _aligned(batched: dict, source: str, rows: int | None) -> dict:
    """Every array chunked like the source (or in ``rows``) along the batch axis, in one chunk along the rest."""
    chunks: Any = batched[source].chunks[0] if rows is None else rows
    return {name: a.rechunk((chunks,) + tuple(-1 for _ in a.shape[1:])) for name, a in batched.items()}


def block_starts(chunks: tuple[int, ...]) -> list[int]:
    """The first example of each block."""
    return [int(v) for v in np.cumsum((0,) + tuple(chunks[:-1]))]


def _graph(da: Any, plan: Any, batched: dict, parallel_iterations: int | None, pfor: bool,
           check_input: bool, label: str, threads: int) -> Any:
    """One task per block: ``jacobian_block(shipped plan, first example, *input blocks)`` -> result block.

    Written as a plain graph so that the block's first example is a literal in its task: an array of example
    numbers chunked like the batch would be as big as a block of data and could move between workers."""
    import dask
    from dask.highlevelgraph import HighLevelGraph

    from jaccli.dask.blocks import jacobian_block
    from jaccli.dask.ship import ship

    data = ship(plan, plan.chunk_size(parallel_iterations))
    # One graph key, named by the plan's digest: Dask moves it to each worker once, every block task reads it.
    shipped = dask.delayed(data, traverse=False, name="jaccli-plan-" + data["digest"])
    arrays = list(batched.values())
    options: dict[str, Any] = dict(names=tuple(batched), label=label, check_input=check_input, pfor=pfor,
                                   threads=threads)
    name = "jaccli-batch-jacobian-" + dask.base.tokenize(data["digest"], options, *arrays)
    task = functools.partial(jacobian_block, **options)  # a module function and plain data: pickled by reference
    chunks = arrays[0].chunks[0]
    tail = (0,) * len(plan.example_shape)
    dsk: dict[Any, Any] = {
        (name, i) + tail: (task, shipped.key, start) + tuple((a.name, i) + (0,) * (a.ndim - 1) for a in arrays)
        for i, start in enumerate(block_starts(chunks))}
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[shipped, *arrays])
    return da.Array(graph, name, chunks=(chunks,) + tuple((n,) for n in plan.example_shape), dtype=plan.dtype,
                    meta=np.empty((0,) * (1 + len(tail)), plan.dtype))
