"""The plan cache: a warm call loads its numeric plan from disk and never imports SymPy.

An entry is one ``.npz`` file (no pickles) in ``JACCLI_CACHE_DIR`` or the platform's user cache directory
(``platformdirs.user_cache_dir("jaccli")``, e.g. ``~/.cache/jaccli``), named by a SHA-256 of everything the plan
depends on: expression text, array names, event shapes and dtypes, scalar and ``-D`` constants, CSV columns,
``--wrt``, the order (a list for several orders, ``-k 0,1,2``), ``--reduce``/``--jvp``/``--vjp`` (the vectors'
names: their shapes are the arrays' and their values are data, read per chunk), ``--dtype``, the jaccli and
plan-format versions, and a digest of the planner's source. It holds the plan's arrays (``plan/store.py``,
``plan/orders_plan.py``, ``plan/reduced_store.py``) plus the JSON meta (with the full key, compared on load). A
corrupt, truncated, foreign or mismatching entry is ignored and rebuilt, never trusted; a cache directory that
cannot be written just means no caching.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from jaccli.plan.orders_plan import orders_from_data, orders_to_data
from jaccli.plan.reduced_store import reduced_from_data, reduced_to_data
from jaccli.plan.store import FORMAT_VERSION, plan_from_data, plan_to_data

ENV_DIR = "JACCLI_CACHE_DIR"
MAX_ENTRY_BYTES = 256 << 20  # a bigger file is not a plan this program wrote


def cache_dir() -> Path:
    where = os.environ.get(ENV_DIR)
    if where:
        return Path(where)
    import platformdirs

    return Path(platformdirs.user_cache_dir("jaccli"))


@lru_cache(maxsize=1)
def rules_fingerprint() -> str:
    """A digest of the source that decides what a plan computes (the catalog, the function table, the NumPy ops,
    the tracer and the planner), so a fixed derivative rule never meets a plan cached before the fix, version bump or not.
    Reading ~30 small files costs about a millisecond; no module is imported for it."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted([root / "catalog.py", root / "functions.py", root / "numeric.py", root / "nary.py",
                        *(root / "expr").glob("*.py"), *(root / "plan").glob("*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:24]


def _number(v: Any) -> list:
    # int and float are different constants (an int exponent stays exact); repr round-trips a float exactly
    return [type(v).__name__, repr(v)]


def plan_key(expression: str, arrays: Mapping[str, tuple[tuple[int, ...], str]], *, scalars: Mapping[str, Any],
             defines: Mapping[str, Any], columns: list[str] | None, row: str | None, wrt: str,
             order: int | tuple[int, ...], dtype: str, params: Mapping[str, np.ndarray] | None = None,
             reduce: tuple[str | None, str | None, str | None] | None = None) -> dict:
    """Everything a plan depends on, as a JSON-able dict (its SHA-256 names the entry)."""
    from jaccli import __version__

    return {"jaccli": __version__, "format": FORMAT_VERSION, "rules": rules_fingerprint(), "expression": expression,
            "arrays": [[k, list(shape), str(dt)] for k, (shape, dt) in arrays.items()],
            "scalars": [[k, *_number(v)] for k, v in scalars.items()],
            "defines": [[k, *_number(v)] for k, v in defines.items()],
            "columns": list(columns) if columns is not None else None, "row": row, "wrt": wrt,
            "order": list(order) if isinstance(order, tuple) else order,
            "reduce": list(reduce) if reduce and any(r is not None for r in reduce) else None,
            "dtype": dtype, "params": [[k, list(np.shape(v)), np.asarray(v).dtype.str,
                                        hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()]
                                       for k, v in sorted((params or {}).items())]}


def _path(key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return cache_dir() / f"plan-{digest[:40]}.npz"


def _codec(key: dict) -> tuple[Callable, Callable]:
    """How a plan of this key is stored and read back: (to_data, from_data)."""
    if key["reduce"] is not None:
        return reduced_to_data, reduced_from_data
    if isinstance(key["order"], list):
        return orders_to_data, orders_from_data
    return plan_to_data, plan_from_data


def load(key: dict) -> Any:
    """The cached plan for ``key`` (a ``Compiled``, ``OrdersPlan`` or ``ReducedCompiled``, as the key asks), or
    None when there is none or it cannot be trusted."""
    path = _path(key)
    try:
        if not path.is_file() or path.stat().st_size > MAX_ENTRY_BYTES:
            return None
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("key") != key:
            return None
        plan = _codec(key)[1](meta["plan"], arrays)
    except Exception:  # noqa: BLE001 - anything wrong with an entry means: rebuild it
        return None
    leaves = {k: int(np.prod(shape, dtype=np.int64)) for k, (shape, _) in key_arrays(key).items()}
    if any(leaves.get(k) != n for k, n in plan.leaves.items()):
        return None
    return plan


def key_arrays(key: dict) -> dict[str, tuple[tuple[int, ...], str]]:
    return {k: (tuple(shape), dt) for k, shape, dt in key["arrays"]}


def save(key: dict, plan: Any) -> None:
    """Store ``plan`` under ``key`` atomically (temp file + rename); any failure leaves the cache as it was."""
    import tempfile  # only when writing: a warm start never needs it

    path = _path(key)
    meta, arrays = _codec(key)[0](plan)
    blob = np.frombuffer(json.dumps({"key": key, "plan": meta}).encode("utf-8"), np.uint8)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".plan-", suffix=".npz", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, meta=blob, **arrays)  # type: ignore[arg-type]  # (numpy's stub: names -> arrays)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def plan_cached(expression: str, arrays: Mapping[str, tuple[tuple[int, ...], Any]], *,
                scalars: Mapping[str, Any] | None = None, defines: Mapping[str, Any] | None = None,
                columns: list[str] | None = None, row: str | None = None, wrt: str = "x",
                order: int | tuple[int, ...] = 1,
                dtype: str = "auto", use_cache: bool = True,
                params: Mapping[str, np.ndarray] | None = None,
                reduce: tuple[str | None, str | None, str | None] | None = None) -> Any:
    """The plan for this expression and input layout: from the cache when there (a ``Compiled``, no SymPy),
    else planned symbolically (a ``Plan``) and stored. ``arrays`` maps names to (event shape, dtype). A tuple
    ``order`` plans several orders at once: an ``OrdersPlan`` (``plan/orders_plan.py``); ``reduce`` is
    ``(--reduce, --jvp, --vjp)``, a reduced plan (``plan/reduced.py``). Both are cached the same way."""
    from jaccli.expr.scope import make_scope
    from jaccli.plan.engine import plan_jacobian, resolve_dtype

    scalars, defines = dict(scalars or {}), dict(defines or {})
    source: Any = expression
    if isinstance(expression, str) and not expression.startswith("@"):
        text = expression  # the parser loads only on a miss: a warm start skips it
    else:
        from jaccli.expr.program import load_expression

        source = load_expression(expression)  # '@PATH': keyed by the file's text, not its name
        text = source.text
    key = plan_key(text, {k: (tuple(s), np.dtype(d).str) for k, (s, d) in arrays.items()}, scalars=scalars,
                   defines=defines, columns=columns, row=row, wrt=wrt, order=order, dtype=dtype, params=params,
                   reduce=reduce)
    if use_cache:
        hit = load(key)
        if hit is not None:
            return hit
    shapes = {k: tuple(s) for k, (s, _) in arrays.items()}
    scope = make_scope(shapes, scalars=scalars, defines=defines, columns=columns, row=row, wrt=wrt, params=params)
    source_dtype = np.result_type(*(np.dtype(arrays[leaf][1]) for leaf in scope.source().leaves()))
    result_dtype = resolve_dtype(dtype, source_dtype)
    if key["reduce"] is not None:
        from jaccli.plan.reduce import Reduction, plan_reduced

        plan = plan_reduced(source, scope, order, result_dtype, Reduction(*key["reduce"]))  # type: ignore[arg-type]
    elif isinstance(order, tuple):
        from jaccli.plan.orders import plan_orders

        plan = plan_orders(source, scope, order, result_dtype)
    else:
        plan = plan_jacobian(source, scope, order, result_dtype)
    if use_cache:
        save(key, plan)
    return plan
