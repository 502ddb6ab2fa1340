"""The compact numeric plan that travels to Dask workers: numbers, strings and index arrays, never SymPy or code.

``ship`` wraps the plan store (``jaccli.plan.store.plan_to_data``: JSON-able meta with op *names* and register
numbers, plus NumPy index and constant arrays) with the sub-chunk size a worker evaluates at once and a content
digest. ``unship`` rebuilds the SymPy-free ``Compiled`` plan through ``plan_from_data`` (which validates every
field and resolves ops through its fixed NumPy table), once per worker process and plan, not once per task. A
worker therefore runs exactly the code and operation order of a local run: same bytes.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def ship(plan: Any, step: int) -> dict:
    """What the client sends: ``{"meta", "arrays", "step", "digest"}`` (plain data only)."""
    from jaccli.plan.store import plan_to_data

    meta, arrays = plan_to_data(plan)
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in sorted(arrays):
        digest.update(name.encode() + np.ascontiguousarray(arrays[name]).tobytes())
    return {"meta": meta, "arrays": arrays, "step": int(step), "digest": digest.hexdigest()}


_LOADED: dict[str, Any] = {}


def unship(data: dict) -> Any:
    """The worker side of ``ship``: the ``Compiled`` plan, cached by digest (a run has one plan, many tasks)."""
    from jaccli.plan.store import plan_from_data

    key = data["digest"]
    if key not in _LOADED:
        if len(_LOADED) >= 16:
            _LOADED.clear()
        _LOADED[key] = plan_from_data(data["meta"], data["arrays"])
    return _LOADED[key]
