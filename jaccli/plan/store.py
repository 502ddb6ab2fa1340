"""A numeric plan as data and back: ``plan_to_data(plan) -> (meta, arrays)``, ``plan_from_data(meta, arrays)``.

``meta`` is JSON-able (op names, register numbers, shapes, modes); ``arrays`` holds the index arrays and float
constants as NumPy arrays (an ``.npz`` stores them without pickles). Nothing here is code: a loaded plan names
ops from the fixed table ``numeric.OPS``, and ``plan_from_data`` checks every field, index and register before
the plan can be evaluated, raising ``StoreError`` on anything malformed or foreign (the cache then rebuilds the entry).
The plan cache (``plan/cache.py``) and process-pool workers use this; neither imports SymPy to evaluate a plan.
``kernel_to_data``/``kernel_from_data`` and the ``need*`` checks serve the stores of several-orders and reduced
plans (``plan/orders_plan.py``, ``plan/reduced_store.py``) too.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from jaccli.plan.compiled import MODES, Compiled, Group, Step
from jaccli.plan.program import Program, check_program

FORMAT = "jaccli-plan"
FORMAT_VERSION = 1


class StoreError(ValueError):
    """A stored plan that is malformed, from another format version, or inconsistent with itself."""


def plan_to_data(plan: Any, prefix: str = "") -> tuple[dict, dict[str, np.ndarray]]:
    """``plan`` (a ``Plan`` or a ``Compiled``) as ``(meta, arrays)``: JSON-able and NumPy-only. ``prefix`` names
    its arrays apart from another plan's in the same file (a several-orders plan stores several)."""
    return _to_data(plan.compiled, prefix)


def _to_data(c: Compiled, prefix: str) -> tuple[dict, dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    groups = []
    for i, g in enumerate(c.groups):
        kernel, more = kernel_to_data(g.slots, g.program, g.lanes, f"{prefix}g{i}")
        arrays.update(more)
        for k, step in enumerate(g.steps):
            arrays[f"{prefix}g{i}.step{k}.dst"] = np.asarray(step.dst, np.int64)
            arrays[f"{prefix}g{i}.step{k}.src"] = np.asarray(step.src, np.int64)
        groups.append({**kernel, "steps": [s.mode for s in g.steps]})
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "expression": c.expression, "dtype": c.dtype.name,
            "target_shape": list(c.target_shape), "shape": list(c.shape), "layout": list(c.layout_names),
            "order": c.order, "connected": c.connected,
            "leaves": dict(c.leaves), "groups": groups, "nan_prone": c.nan_prone, "value": None,
            "params": sorted(c.params)}
    for name, row in c.params.items():
        arrays[f"{prefix}param.{name}"] = np.asarray(row)
    if c.value is not None:
        meta["value"], more = _to_data(c.value, prefix + "value.")
        arrays.update(more)
    return meta, arrays


def need(cond: bool, what: str) -> None:
    if not cond:
        raise StoreError(f"stored plan: {what}")


def need_int(v: Any, what: str, low: int = 0) -> int:
    need(type(v) is int and v >= low, f"{what} must be an integer >= {low}")
    return v


def need_shape(v: Any, what: str) -> tuple[int, ...]:
    need(isinstance(v, list) and len(v) <= 64, f"{what} must be a list of at most 64 sizes")
    return tuple(need_int(n, what) for n in v)


def need_array(arrays: Mapping[str, np.ndarray], key: str, dtype: type, low: int = 0, high: int | None = None,
               size: int | None = None) -> np.ndarray:
    need(key in arrays, f"array {key} is missing")
    a = arrays[key]
    need(isinstance(a, np.ndarray) and a.dtype == np.dtype(dtype) and a.ndim == 1, f"{key} must be 1-d {dtype}")
    need(size is None or len(a) == size, f"{key} has {len(a)} entries, expected {size}")
    if dtype is np.int64 and len(a):
        need(int(a.min()) >= low and (high is None or int(a.max()) < high), f"{key} indexes out of range")
    return a


def plan_from_data(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], prefix: str = "") -> Compiled:
    """The ``Compiled`` plan that ``plan_to_data`` gave ``(meta, arrays)`` for; ``StoreError`` if anything is off."""
    try:
        return _load(meta, arrays, prefix)
    except StoreError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
        raise StoreError(f"stored plan: {e}") from None


def _load(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], prefix: str = "") -> Compiled:
    need(isinstance(meta, Mapping), "meta must be an object")
    need(meta.get("format") == FORMAT and meta.get("version") == FORMAT_VERSION, "foreign format or version")
    need(meta.get("dtype") in ("float32", "float64"), "dtype must be float32 or float64")
    need(isinstance(meta.get("expression"), str), "expression must be text")
    need(isinstance(meta.get("connected"), bool), "connected must be a boolean")
    target, shape = need_shape(meta["target_shape"], "target_shape"), need_shape(meta["shape"], "shape")
    layout = meta["layout"]
    need(isinstance(layout, list) and all(isinstance(n, str) for n in layout)
          and len(layout) in (0, len(shape) + 1), "layout must name every axis")
    order = need_int(meta["order"], "order")
    size = int(np.prod(shape, dtype=np.int64))
    leaves = meta["leaves"]
    need(isinstance(leaves, dict) and all(isinstance(k, str) for k in leaves), "leaves must map names to sizes")
    leaves = {k: need_int(v, f"leaf {k}") for k, v in leaves.items()}
    need(isinstance(meta["params"], list) and all(isinstance(k, str) and k not in leaves for k in meta["params"]),
          "params must be a list of names apart from the arrays")
    dtype = np.dtype(meta["dtype"])
    params = {}
    for name in meta["params"]:
        row = arrays.get(f"{prefix}param.{name}")
        need(isinstance(row, np.ndarray) and row.dtype == dtype and row.ndim == 2 and row.shape[0] == 1,
              f"parameter {name} must be a (1, n) row of the plan's dtype")
        params[name] = np.ascontiguousarray(row)
    sizes = {**leaves, **{k: v.shape[1] for k, v in params.items()}}
    need(isinstance(meta["groups"], list), "groups must be a list")
    groups = tuple(_group(i, g, arrays, sizes, size, prefix) for i, g in enumerate(meta["groups"]))
    need(isinstance(meta["nan_prone"], bool), "nan_prone must be a boolean")
    value = None
    if meta["value"] is not None:
        need(not prefix, "a value plan has no value plan of its own")
        value = _load(meta["value"], arrays, "value.")
        need(value.order == 0 and value.target_shape == target and value.leaves == leaves, "value plan mismatch")
    return Compiled(meta["expression"], dtype, target, shape, tuple(layout), order,
                    meta["connected"], leaves, groups, value, meta["nan_prone"], params)


def kernel_to_data(slots: tuple[tuple[str, np.ndarray], ...], program: Program, lanes: int,
                   key: str) -> tuple[dict, dict[str, np.ndarray]]:
    """A kernel over gathered slots as ``(meta, arrays)``, its arrays named ``{key}.consts``, ``{key}.slot{j}``."""
    arrays = {f"{key}.consts": np.asarray(program.consts, np.float64)}
    for j, (_, index) in enumerate(slots):
        arrays[f"{key}.slot{j}"] = np.asarray(index, np.int64)
    code = [[op, list(args)] for op, args in program.code]
    meta = {"lanes": lanes, "slots": [leaf for leaf, _ in slots], "code": code, "outputs": list(program.outputs)}
    return meta, arrays


def kernel_from_data(i: int, g: Any, arrays: Mapping[str, np.ndarray], leaves: dict[str, int],
                     key: str) -> tuple[int, tuple[tuple[str, np.ndarray], ...], Program]:
    """``kernel_to_data``'s lanes, slots and program, every op, register and index checked."""
    need(isinstance(g, dict), f"group {i} must be an object")
    lanes = need_int(g["lanes"], "lanes", 1)
    need(isinstance(g["slots"], list) and all(leaf in leaves for leaf in g["slots"]), f"group {i}: slot leaves")
    slots = tuple((leaf, need_array(arrays, f"{key}.slot{j}", np.int64, 0, leaves[leaf], lanes))
                  for j, leaf in enumerate(g["slots"]))
    consts = need_array(arrays, f"{key}.consts", np.float64)
    code = []
    for entry in g["code"]:
        need(isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
              and isinstance(entry[1], list) and all(type(a) is int for a in entry[1]), f"group {i}: code entry")
        code.append((entry[0], tuple(entry[1])))
    need(isinstance(g["outputs"], list) and all(type(o) is int for o in g["outputs"]), f"group {i}: outputs")
    try:
        program = Program(len(slots), tuple(code), tuple(float(c) for c in consts), tuple(g["outputs"]))
    except KeyError as e:
        raise StoreError(f"stored plan: unknown op {e}") from None
    try:
        check_program(program)
    except ValueError as e:
        raise StoreError(f"stored plan: group {i}: {e}") from None
    return lanes, slots, program


def _group(i: int, g: Any, arrays: Mapping[str, np.ndarray], leaves: dict[str, int], size: int,
           prefix: str) -> Group:
    lanes, slots, program = kernel_from_data(i, g, arrays, leaves, f"{prefix}g{i}")
    width = len(program.outputs) * lanes
    need(isinstance(g["steps"], list), f"group {i}: steps")
    steps = []
    for k, mode in enumerate(g["steps"]):
        need(mode in MODES, f"group {i}: unknown mode {mode!r}")
        dst = need_array(arrays, f"{prefix}g{i}.step{k}.dst", np.int64, 0, size)
        src = need_array(arrays, f"{prefix}g{i}.step{k}.src", np.int64, 0, width, len(dst))
        ordered = np.sort(dst)  # (not np.unique: it imports numpy.ma, 20+ ms of a warm start)
        need(mode == "add_at" or bool((ordered[1:] != ordered[:-1]).all()), f"group {i}: repeated destinations")
        steps.append(Step(mode, dst, src))
    return Group(lanes, slots, program, tuple(steps))
