"""A kernel as data: a straight-line NumPy program over registers, with no SymPy in sight.

``Program`` is what ``kernel.Kernel`` compiles and what the plan cache stores (``plan/store.py``): op
names from ``numeric.OPS``, integer register numbers and a table of float constants. Evaluating it is a loop of
NumPy calls; each register is dropped after its last use, so a Hessian's thousands of intermediates never all
live at once (the chunk can then be large, which is what keeps per-call overhead small).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, NamedTuple, Sequence

import numpy as np

from jaccli.numeric import ARITY, OPS


class Instr(NamedTuple):
    """One step as people read it: ``r{out} = name(*args)``, an arg a register number or a float constant."""

    out: int
    name: str
    args: tuple[int | float, ...]


@dataclass(frozen=True)
class Program:
    """``code[i] = (op, args)`` writes register ``n_inputs + i``; an arg ``a >= 0`` is a register, ``a < 0`` the
    constant ``consts[-a - 1]`` (a Python float: NumPy treats it as weakly typed, so float32 stays float32).
    ``outputs`` use the same encoding."""

    n_inputs: int
    code: tuple[tuple[str, tuple[int, ...]], ...]
    consts: tuple[float, ...]
    outputs: tuple[int, ...]
    _steps: tuple = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_steps", _schedule(self))

    def __iter__(self) -> Iterator[Instr]:
        for i, (op, args) in enumerate(self.code):
            yield Instr(self.n_inputs + i, op, tuple(a if a >= 0 else self.consts[-a - 1] for a in args))

    def __len__(self) -> int:
        return len(self.code)

    @property
    def n_registers(self) -> int:
        return self.n_inputs + len(self.code)

    def peak_live(self) -> int:
        """Most registers alive at once during an evaluation (inputs included): the kernel's working memory in lanes."""
        live, peak = self.n_inputs, self.n_inputs
        for _, _, _, frees in self._steps:
            live += 1
            peak = max(peak, live)
            live -= len(frees)
        return peak

    def fill(self, values: Sequence[np.ndarray], block: np.ndarray, lanes: int) -> None:
        """Evaluate, writing output ``p`` into ``block[:, p*lanes:(p+1)*lanes]`` (``block`` is ``(b, outputs*lanes)``).

        An output made by exactly rounded arithmetic (add, multiply...) is computed straight into its columns
        (``out=``): no separate array, no second copy; those ops give the same bits whatever the memory layout,
        unlike SIMD transcendental loops, so chunking and ``--no-pfor`` stay bit-identical. Others are copied.
        """
        if len(values) != self.n_inputs:
            raise ValueError(f"kernel takes {self.n_inputs} inputs, got {len(values)}")
        regs: list = list(values) + [None] * len(self.code)
        consts = self.consts
        direct = _direct_outputs(self)
        with np.errstate(all="ignore"):
            for i, (fn, out, args, frees) in enumerate(self._steps):
                argv = [regs[a] if a >= 0 else consts[-a - 1] for a in args]
                p = direct.get(i)
                if p is None:
                    regs[out] = fn(*argv)
                else:
                    target = block[:, p * lanes:(p + 1) * lanes]
                    fn(*argv, out=target)
                    regs[out] = target
                for r in frees:
                    regs[r] = None
        for p, o in enumerate(self.outputs):
            if o < self.n_inputs or _direct_index(self, p) is None:
                block[:, p * lanes:(p + 1) * lanes] = regs[o] if o >= 0 else consts[-o - 1]

    def __call__(self, values: Sequence[np.ndarray]) -> list:
        if len(values) != self.n_inputs:
            raise ValueError(f"kernel takes {self.n_inputs} inputs, got {len(values)}")
        regs: list = list(values) + [None] * len(self.code)
        consts = self.consts
        with np.errstate(all="ignore"):  # inf/nan are results here, counted and reported by the caller
            for fn, out, args, frees in self._steps:
                regs[out] = fn(*[regs[a] if a >= 0 else consts[-a - 1] for a in args])
                for r in frees:
                    regs[r] = None
        return [regs[o] if o >= 0 else consts[-o - 1] for o in self.outputs]

    def __str__(self) -> str:
        def show(a: int) -> str:
            return f"r{a}" if a >= 0 else repr(self.consts[-a - 1])

        lines = [f"inputs r0..r{self.n_inputs - 1}"]
        lines += [f"r{self.n_inputs + i} = {op}({', '.join(show(a) for a in args)})" for i, (op, args) in
                  enumerate(self.code)]
        lines.append("outputs " + ", ".join(show(o) for o in self.outputs))
        return "\n".join(lines)


def _schedule(p: Program) -> tuple[tuple[Callable, int, tuple[int, ...], tuple[int, ...]], ...]:
    """Per instruction: the NumPy function, its output register, its args, and the registers dead after it."""
    last: dict[int, int] = {}
    for i, (_, args) in enumerate(p.code):
        for a in args:
            if a >= 0:
                last[a] = i
    keep = {o for o in p.outputs if o >= 0}
    dead: list[list[int]] = [[] for _ in p.code]
    for reg, i in last.items():
        if reg not in keep:
            dead[i].append(reg)
    for i in range(len(p.code)):  # a result nobody reads (cannot happen from the compiler) is dropped at once
        reg = p.n_inputs + i
        if reg not in last and reg not in keep:
            dead[i].append(reg)
    return tuple((OPS[op], p.n_inputs + i, args, tuple(sorted(dead[i]))) for i, (op, args) in enumerate(p.code))


def check_program(p: Program) -> None:
    """Raise ValueError unless ``p`` is well formed: known ops with their arity, registers defined before use,
    constant references in range. A loaded (untrusted) program is checked before it is ever evaluated."""
    if p.n_inputs < 0:
        raise ValueError("negative input count")
    for i, (op, args) in enumerate(p.code):
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}")
        arity = ARITY[op]
        if (arity is not None and len(args) != arity) or not args:
            raise ValueError(f"op {op!r} with {len(args)} arguments")
        for a in args:
            if not (-len(p.consts) <= a < p.n_inputs + i):
                raise ValueError(f"instruction {i} reads r{a}, not yet defined")
    for o in p.outputs:
        if not (-len(p.consts) <= o < p.n_registers):
            raise ValueError(f"output r{o} out of range")


EXACT_UFUNCS = frozenset({"add", "sub", "mul", "div", "neg", "square"})  # correctly rounded: layout-independent


def _direct_outputs(p: Program) -> dict[int, int]:
    """Instruction index -> the output it writes in place (the first output naming a register made by an
    exactly rounded ufunc); cached on the program."""
    cached = p.__dict__.get("_direct")
    if cached is None:
        cached = {}
        for k, o in enumerate(p.outputs):
            i = o - p.n_inputs
            if i >= 0 and i not in cached and p.code[i][0] in EXACT_UFUNCS and isinstance(p._steps[i][0], np.ufunc):
                cached[i] = k
        object.__setattr__(p, "_direct", cached)
    return cached


def _direct_index(p: Program, k: int) -> int | None:
    """The instruction that writes output ``k`` in place, if any."""
    i = p.outputs[k] - p.n_inputs
    return i if _direct_outputs(p).get(i) == k else None
