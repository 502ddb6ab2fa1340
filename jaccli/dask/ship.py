"""The compact numeric plan that travels to Dask workers: numbers, strings and index arrays, never SymPy or code.

A ``Plan`` holds SymPy expressions (the tape, the partials) that workers do not need. What evaluation needs is
the straight-line kernel programs (op names, register numbers, constants), the slots' gather indices and the
placements' scatter indices. ``plan_to_data`` writes that down as plain data; ``plan_from_data`` rebuilds
objects that ``jaccli.plan.engine.evaluate`` runs unchanged, resolving each op *by name* through a fixed table
of NumPy functions (the kernel's builtins and the function table). So a worker computes with exactly the code
and the operation order of a local run: same bytes.

``ship``/``unship`` are the only two functions the Dask engine calls; if the plan store of the performance work
(``jaccli.plan.store``) is available, they are where it plugs in.
"""
from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

FORMAT = "jaccli-numeric-plan/1"


def ship(plan: Any, step: int) -> dict:
    """What the client sends: the plan as plain data, plus the sub-chunk size a worker evaluates at once."""
    data = plan_to_data(plan)
    data["step"] = int(step)
    # A content digest names the plan in each worker's cache: one rebuild per worker process, not per task.
    data["digest"] = hashlib.sha256(pickle.dumps(data, protocol=4)).hexdigest()
    return data


_LOADED: dict[str, "NumericPlan"] = {}


def unship(data: dict) -> "NumericPlan":
    """The worker side of ``ship``: rebuilt once per process and plan (a run has one plan, tasks have many)."""
    key = data["digest"]
    if key not in _LOADED:
        if len(_LOADED) > 16:
            _LOADED.clear()
        _LOADED[key] = plan_from_data(data)
    return _LOADED[key]


# --- the op table: names -> NumPy callables -----------------------------------------------------------------

def _op_table() -> dict[str, Callable[..., np.ndarray]]:
    from jaccli.functions import ROWS
    from jaccli.plan.kernel import BUILTINS

    table = {f"builtin:{name}": fn for name, fn in BUILTINS.items()}
    table.update({f"row:{row.name}": row.numpy for row in ROWS})
    return table


def _op_name(name: str, fn: Callable[..., np.ndarray], table: dict[str, Callable[..., np.ndarray]]) -> str:
    """The table key of one kernel instruction; it must resolve to the very function the kernel calls."""
    for key in (f"builtin:{name}", f"row:{name}"):
        if table.get(key) is fn:
            return key
    raise TypeError(f"kernel op {name!r} is not in the numeric op table")  # a bug, not a user error


# --- plan -> data -------------------------------------------------------------------------------------------

def plan_to_data(plan: Any) -> dict:
    """Plain data (dicts, lists, str, int, float, int64 arrays) that ``plan_from_data`` turns back into a plan."""
    table = _op_table()
    d = plan.derivative
    groups = []
    for group in d.groups:
        kernel = group[0].kernel
        program = [[ins.out, _op_name(ins.name, ins.fn, table), list(ins.args), list(ins.consts)]
                   for ins in kernel.program]
        groups.append({
            "kernel": {"inputs": kernel.n_inputs, "registers": kernel._n, "program": program,
                       "outputs": list(kernel.outputs)},
            "slots": [[s.leaf, np.asarray(s.index, np.int64)] for s in group[0].slots],
            "programs": [{"lanes": prog.lanes,
                          "placements": [[p.part, None if p.lanes is None else np.asarray(p.lanes, np.int64),
                                          np.asarray(p.flat, np.int64), p.mode] for p in prog.placements]}
                         for prog in group],
        })
    return {"format": FORMAT, "dtype": np.dtype(plan.dtype).str, "shape": list(d.shape), "groups": groups}


# --- data -> plan -------------------------------------------------------------------------------------------

@dataclass
class NumericDerivative:
    shape: tuple[int, ...]
    groups: list[list[Any]]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass
class NumericProgram:
    slots: tuple[Any, ...]
    kernel: Any
    placements: list[Any]
    lanes: int


@dataclass
class NumericPlan:
    """What ``engine.evaluate`` and ``engine.evaluate_chunk`` read of a ``Plan``, and nothing symbolic."""

    derivative: NumericDerivative
    dtype: np.dtype
    step: int

    @property
    def example_shape(self) -> tuple[int, ...]:
        return self.derivative.shape


def plan_from_data(data: dict) -> NumericPlan:
    from jaccli.expr.field import Slot
    from jaccli.plan.derive import Placement
    from jaccli.plan.kernel import Instr, Kernel

    if data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} plan: {data.get('format')!r}")
    table = _op_table()
    groups = []
    for g in data["groups"]:
        k = g["kernel"]
        kernel = Kernel.__new__(Kernel)  # the real interpreter, without compiling from SymPy
        kernel.n_inputs, kernel._n, kernel._regs = k["inputs"], k["registers"], {}
        kernel.program = [Instr(out, op.split(":", 1)[1], table[op], tuple(args), tuple(consts))
                          for out, op, args, consts in k["program"]]
        kernel.outputs = list(k["outputs"])
        slots = tuple(Slot(leaf, index) for leaf, index in g["slots"])
        groups.append([NumericProgram(slots, kernel, [Placement(*p) for p in prog["placements"]], prog["lanes"])
                       for prog in g["programs"]])
    return NumericPlan(NumericDerivative(tuple(data["shape"]), groups), np.dtype(data["dtype"]),
                       int(data.get("step", 1)))
