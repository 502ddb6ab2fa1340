"""The Python face of jaccli: ``batch_jacobian``, the same path the CLI takes, on NumPy arrays."""
from __future__ import annotations

from functools import lru_cache
from typing import Mapping, Optional, Union

import numpy as np

from .engine import Plan, evaluate_chunk, make_scope, plan_jacobian, resolve_dtype
from .errors import InputError, UsageError

ArrayInput = Union[np.ndarray, Mapping[str, np.ndarray]]


def _as_arrays(x: ArrayInput, name: str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Split the input into per-example arrays (batch first) and scalars (0-d entries of a mapping)."""
    items = dict(x) if isinstance(x, Mapping) else {name: x}
    arrays, scalars = {}, {}
    for key, value in items.items():
        a = np.asarray(value)
        if a.dtype.kind not in "fiu":
            raise InputError(f"array '{key}' has dtype {a.dtype}; numbers are needed",
                             hint="pass integer or floating arrays")
        if a.ndim == 0:
            scalars[key] = float(a)
        else:
            arrays[key] = a
    if not arrays:
        raise InputError("no array with a batch axis in the input", hint="the first axis is the batch")
    sizes = {k: a.shape[0] for k, a in arrays.items()}
    if 0 in sizes.values():
        raise InputError("empty input: no examples", hint="the first axis is the batch; it needs at least one row")
    if len(set(sizes.values())) > 1:
        raise InputError(f"arrays have different batch sizes: {sizes}", hint="every array needs the same first axis")
    return arrays, scalars


def _check_finite(arrays: Mapping[str, np.ndarray]) -> None:
    for key, a in arrays.items():
        if np.isfinite(a).all():
            continue
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise InputError(f"non-finite value {a[first]} in array '{key}' at index {first}",
                         hint="pass allow_nonfinite=True to compute with it anyway")


@lru_cache(maxsize=64)
def _plan(expression: str, shapes: tuple, scalars: tuple, defines: tuple, names: Optional[tuple], row: str,
          wrt: str, order: int, dtype: str) -> Plan:
    """The symbolic half, cached: a loop calling ``batch_jacobian`` on same-shaped batches derives once.

    Plans are never mutated after planning, so sharing them between calls is safe."""
    arrays = {k: shape for k, shape, _ in shapes}
    scope = make_scope(arrays, scalars=dict(scalars), defines=dict(defines), columns=list(names) if names else None,
                       row=row, wrt=wrt)
    source_dtype = next(np.dtype(d) for k, _, d in shapes if k == scope.source().leaf)
    return plan_jacobian(expression, scope, order, resolve_dtype(dtype, source_dtype))


def batch_jacobian(expression: str, x: ArrayInput, order: int = 1, *, wrt: str = "x",
                   constants: Optional[Mapping[str, float]] = None, names: Optional[list[str]] = None,
                   unconnected: str = "none", dtype: str = "auto", parallel_iterations: Optional[int] = None,
                   pfor: bool = True, allow_nonfinite: bool = False) -> Optional[np.ndarray]:
    """Per-example k-th derivative of ``expression`` w.r.t. ``wrt``: shape ``(B, *T, *S, ..., *S)``.

    ``x`` is one array (batch first; it is named ``wrt``) or a mapping of named arrays (``wrt`` picks the source,
    the others are per-example constants; 0-d entries are scalars). ``names`` name the columns of a 2-D ``x``
    like a CSV header; ``wrt`` may then name one column. ``constants`` are the CLI's ``-D`` scalars. A target
    that does not reference the source gives ``None`` (``unconnected='zero'``: zeros).

    >>> batch_jacobian("x*x*x", np.array([[4., 2.], [1., 3.]]))[0]
    array([[48.,  0.],
           [ 0., 12.]])
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise UsageError(f"order must be an integer, 1 or more, not {order!r}")
    if unconnected not in ("none", "zero"):
        raise UsageError(f"unconnected must be 'none' or 'zero', not {unconnected!r}")
    row = "x" if names and wrt in names else wrt
    arrays, scalars = _as_arrays(x, row)
    if names is not None:
        if isinstance(x, Mapping) or arrays[row].ndim != 2 or arrays[row].shape[1] != len(names):
            raise UsageError("names need a 2-D array with one name per column")
    if not allow_nonfinite:
        _check_finite(arrays)
    defines = {k: (v if isinstance(v, int) and not isinstance(v, bool) else float(v))
               for k, v in (constants or {}).items()}
    shapes = tuple((k, a.shape[1:], a.dtype.str) for k, a in arrays.items())
    plan = _plan(expression, shapes, tuple(scalars.items()), tuple(defines.items()),
                 tuple(names) if names is not None else None, row, wrt, order, dtype)
    batch = next(iter(arrays.values())).shape[0]
    if not plan.connected and unconnected == "none":
        return None
    step = plan.chunk_size(parallel_iterations)
    result = np.zeros((batch,) + plan.example_shape, plan.dtype)  # chunks fill slices: no copy at the end
    for i in range(0, batch, step):
        evaluate_chunk(plan, {k: a[i:i + step] for k, a in arrays.items()}, pfor=pfor, out=result[i:i + step])
    return result
