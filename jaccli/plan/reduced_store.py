"""A reduced plan (``--reduce``/``--jvp``/``--vjp``, ``plan/reduced.py``) as data and back, for the plan cache.

Its ``base`` is stored as any plan is (``plan/store.py``), each re-targeted group as a kernel (``kernel_to_data``)
plus its targets' index arrays. ``reduced_from_data`` checks every index against the sizes it reads and writes,
and recomputes what evaluation relies on -- a target's write mode (assign on a first write, else add) and
whether it writes in order -- instead of reading it from the file. The ``--jvp``/``--vjp`` vectors are data:
the plan holds only the name and elements each lane reads, never their values.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from jaccli.plan.reduce_kinds import REDUCE_KINDS
from jaccli.plan.reduced import Group, ReducedCompiled, make_target
from jaccli.plan.store import (kernel_from_data, kernel_to_data, need, need_array, need_int, need_shape,
                               plan_from_data, plan_to_data)

FORMAT = "jaccli-reduced"
INDEXES = ("lanes", "order", "starts", "unique")


def reduced_to_data(plan: Any) -> tuple[dict, dict[str, np.ndarray]]:
    """``plan`` (a ``reduce.ReducedPlan`` or a ``ReducedCompiled``) as ``(meta, arrays)``."""
    r: ReducedCompiled = plan.numeric
    base, arrays = plan_to_data(r.base)
    groups = []
    for i, g in enumerate(r.groups):
        kernel, more = kernel_to_data(g.slots, g.program, g.lanes, f"r{i}")
        arrays.update(more)
        targets = []
        for j, t in enumerate(g.targets):
            for name in INDEXES:
                if getattr(t, name) is not None:
                    arrays[f"r{i}.t{j}.{name}"] = np.asarray(getattr(t, name), np.int64)
            for m, (_, element) in enumerate(t.weights):
                arrays[f"r{i}.t{j}.w{m}"] = np.asarray(element, np.int64)
            targets.append({"part": t.part, "weights": [name for name, _ in t.weights], "lanes": t.lanes is not None,
                            "sorted": t.order is not None})
        groups.append({**kernel, "targets": targets})
    return {"format": FORMAT, "base": base, "kind": r.kind, "vjp": r.vjp, "shape": list(r.shape),
            "names": list(r.names), "source_shape": list(r.source_shape), "dense": r.dense, "block": r.block,
            "groups": groups}, arrays


def reduced_from_data(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> ReducedCompiled:
    """The ``ReducedCompiled`` that ``reduced_to_data`` gave ``(meta, arrays)`` for; ``StoreError`` if anything
    is off."""
    need(isinstance(meta, Mapping) and meta.get("format") == FORMAT, "foreign format")
    base = plan_from_data(meta["base"], arrays)
    kind, vjp, dense = meta["kind"], meta["vjp"], meta["dense"]
    need(kind is None or kind in REDUCE_KINDS, "unknown reduction")
    need(isinstance(vjp, bool) and isinstance(dense, bool), "vjp and dense must be booleans")
    shape, source = need_shape(meta["shape"], "shape"), need_shape(meta["source_shape"], "source_shape")
    names = meta["names"]
    need(isinstance(names, list) and len(names) == len(shape) and all(isinstance(n, str) for n in names),
         "names must name every axis")
    block = need_int(meta["block"], "block")
    need(block == int(np.prod(source, dtype=np.int64)), "block must be the source's size")
    size = int(np.prod(shape, dtype=np.int64))
    determinants = size // 2 if kind == "logabsdet" else size
    width = determinants * block if kind in ("det", "logabsdet") else size  # what the groups write
    need(not dense or (kind in ("det", "logabsdet") and base.size == width * block), "dense blocks mismatch")
    need(dense or not base.groups, "only dense det/logabsdet evaluates the full derivative")
    need(isinstance(meta["groups"], list) and not (dense and meta["groups"]), "groups must be a list")
    sizes = {**base.leaves, **{k: v.shape[1] for k, v in base.params.items()}}
    written: set[int] = set()  # across groups, as retarget writes them
    groups = tuple(_group(i, g, arrays, sizes, width, written) for i, g in enumerate(meta["groups"]))
    return ReducedCompiled(base, kind, vjp, shape, tuple(names), source, groups, dense, block)


def _group(i: int, g: Any, arrays: Mapping[str, np.ndarray], sizes: dict[str, int], width: int,
           written: set[int]) -> Group:
    lanes, slots, program = kernel_from_data(i, g, arrays, sizes, f"r{i}")
    need(isinstance(g.get("targets"), list), f"group {i}: targets")
    targets = []
    for j, t in enumerate(g["targets"]):
        key = f"r{i}.t{j}"
        need(isinstance(t, dict) and type(t.get("part")) is int and 0 <= t["part"] < len(program.outputs)
             and isinstance(t.get("lanes"), bool) and isinstance(t.get("sorted"), bool)
             and isinstance(t.get("weights"), list) and all(n in sizes for n in t["weights"]), f"{key}: fields")
        kept = need_array(arrays, f"{key}.lanes", np.int64, 0, lanes) if t["lanes"] else None
        n = lanes if kept is None else len(kept)
        weights = tuple((name, need_array(arrays, f"{key}.w{m}", np.int64, 0, sizes[name], n))
                        for m, name in enumerate(t["weights"]))
        order = starts = None
        if t["sorted"]:
            order = need_array(arrays, f"{key}.order", np.int64, 0, n, n)
            need(bool((np.sort(order) == np.arange(n)).all()), f"{key}: order must be a permutation")
            unique = need_array(arrays, f"{key}.unique", np.int64, 0, width)
            starts = need_array(arrays, f"{key}.starts", np.int64, 0, max(n, 1), len(unique))
            need(len(starts) > 0 and starts[0] == 0 and bool((starts[1:] > starts[:-1]).all()), f"{key}: runs")
        else:
            unique = need_array(arrays, f"{key}.unique", np.int64, 0, width, n)
        ordered = np.sort(unique)
        need(bool((ordered[1:] != ordered[:-1]).all()), f"{key}: repeated destinations")
        targets.append(make_target(t["part"], kept, weights, order, starts, unique, written))
    return Group(slots, program, lanes, tuple(targets))
