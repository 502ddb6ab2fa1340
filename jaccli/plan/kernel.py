"""SymPy expressions -> a NumPy kernel: a straight-line program evaluated over whole arrays.

``compile_kernel(inputs, outputs)`` flattens every expression into ``Instr`` steps that call NumPy, emitting each
distinct subexpression once (hash-consing: SymPy expressions are hashable, so the 20 000 partials of a Hessian
share every subtree they have in common; ``sympy.cse`` finds a little more but costs seconds on such sets). The
kernel is *interpreted*, not generated as source and ``exec``'d: nothing is ever compiled from text, and the
per-step overhead (microseconds) vanishes next to array work over a batch.

Arithmetic keeps the inputs' float dtype: constants enter as Python floats, which NumPy treats as weakly typed,
so float32 data is evaluated in float32 throughout, as TensorFlow would.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, Union

import numpy as np
import sympy

Ref = Union[int, float]  # a register number, or a constant folded into the instruction


@dataclass(frozen=True)
class Instr:
    out: int
    name: str
    fn: Callable[..., np.ndarray]
    args: tuple[Ref, ...]
    consts: tuple[bool, ...]  # which args are constants rather than registers

    def __str__(self) -> str:
        shown = [repr(a) if c else f"r{a}" for a, c in zip(self.args, self.consts)]
        return f"r{self.out} = {self.name}({', '.join(shown)})"


def _div(a, b):
    return a / b


def _recip(a):
    return 1 / a


def _power(a, b):
    return a**b


BUILTINS: dict[str, Callable] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": _div, "neg": np.negative,
    "recip": _recip, "square": np.square, "sqrt": np.sqrt, "pow": _power,
    "exp": np.exp, "log": np.log,  # SymPy's own exp/log appear for e**x and d/dy x**y
}


def constant_value(e: sympy.Expr) -> float:
    """A SymPy constant as a float; SymPy's infinities (``zoo`` from 1/0) become IEEE inf, as NumPy gives."""
    if e is sympy.zoo or e is sympy.oo:
        return float("inf")
    if e is -sympy.oo:
        return float("-inf")
    if e is sympy.nan:
        return float("nan")
    return float(e)


class Kernel:
    """Evaluates ``outputs`` (SymPy expressions over ``inputs``) on NumPy arrays.

    ``kernel(values)`` takes one array per input symbol (any mutually broadcastable shapes, e.g. ``(b, L)`` and
    ``(b, 1)``) and returns one array (or 0-d constant) per output expression.
    """

    def __init__(self, inputs: Sequence[sympy.Symbol], outputs: Sequence[sympy.Expr]) -> None:
        self.n_inputs = len(inputs)
        self.program: list[Instr] = []
        self._regs: dict[sympy.Expr, Ref] = {s: i for i, s in enumerate(inputs)}
        self._n = len(inputs)
        self.outputs: list[Ref] = [self._emit(e) for e in outputs]

    # --- compilation -------------------------------------------------------------------------------------
    def _new(self, name: str, fn: Callable, *args: Ref) -> int:
        out = self._n
        self._n += 1
        consts = tuple(isinstance(a, float) for a in args)
        self.program.append(Instr(out, name, fn, args, consts))
        return out

    def _emit(self, e: sympy.Expr) -> Ref:
        if e in self._regs:
            return self._regs[e]
        ref = self._emit_new(e)
        self._regs[e] = ref
        return ref

    def _emit_new(self, e: sympy.Expr) -> Ref:
        if e.is_number and not e.free_symbols:
            return constant_value(e)
        if e.is_Add:
            return self._fold("add", [self._emit(a) for a in e.args])
        if e.is_Mul:
            return self._emit_mul(e)
        if e.is_Pow:
            return self._emit_pow(e.base, e.exp)
        name = type(e).__name__
        if isinstance(e, sympy.exp):
            return self._new("exp", np.exp, self._emit(e.args[0]))
        if isinstance(e, sympy.log) and len(e.args) == 1:
            return self._new("log", np.log, self._emit(e.args[0]))
        row = getattr(type(e), "jaccli_row", None)
        if row is not None:
            return self._new(row.name, row.numpy, *[self._emit(a) for a in e.args])
        raise TypeError(f"kernel: no NumPy rule for SymPy node {name}: {e}")  # a bug, not a user error

    def _fold(self, name: str, refs: list[Ref]) -> Ref:
        acc = refs[0]
        for r in refs[1:]:
            acc = self._new(name, BUILTINS[name], acc, r)
        return acc

    def _emit_mul(self, e: sympy.Expr) -> Ref:
        # a*b/(c*d) as one division: closer to what a person (or TF's chain rule) computes than a*b*(1/c)*(1/d).
        num: list[Ref] = []
        den: list[Ref] = []
        for f in e.args:
            if f.is_Pow and f.exp.is_Integer and f.exp < 0:
                den.append(self._emit_pow(f.base, -f.exp))
            elif f == -1:
                num.insert(0, -1.0)
            else:
                num.append(self._emit(f))
        top: Ref
        if num and num[0] == -1.0 and len(num) > 1:
            top = self._new("neg", np.negative, self._fold("mul", num[1:]))
        else:
            top = self._fold("mul", num) if num else 1.0
        if not den:
            return top
        bottom = self._fold("mul", den)
        return self._new("div", _div, top, bottom)

    def _emit_pow(self, base: sympy.Expr, exp: sympy.Expr) -> Ref:
        b = self._emit(base)
        if exp == 1:
            return b
        if exp == 2:
            return self._new("square", np.square, b)
        if exp == -1:
            return self._new("recip", _recip, b)
        if exp == sympy.Rational(1, 2):
            return self._new("sqrt", np.sqrt, b)
        if exp == sympy.Rational(-1, 2):
            return self._new("recip", _recip, self._new("sqrt", np.sqrt, b))
        if exp.is_Integer:
            return self._new("pow", _power, b, float(exp))
        return self._new("pow", _power, b, self._emit(exp))

    # --- evaluation -------------------------------------------------------------------------------------
    def __call__(self, values: Sequence[np.ndarray]) -> list:
        if len(values) != self.n_inputs:
            raise ValueError(f"kernel takes {self.n_inputs} inputs, got {len(values)}")
        regs: list = list(values) + [None] * (self._n - self.n_inputs)
        with np.errstate(all="ignore"):  # inf/nan are results here, counted and reported by the caller
            for ins in self.program:
                args = [a if isinstance(a, float) else regs[a] for a in ins.args]  # floats are constants (ins.consts)
                regs[ins.out] = ins.fn(*args)
        return [o if isinstance(o, float) else regs[o] for o in self.outputs]

    def __str__(self) -> str:
        lines = [f"inputs r0..r{self.n_inputs - 1}"] + [str(i) for i in self.program]
        lines.append("outputs " + ", ".join(repr(o) if isinstance(o, float) else f"r{o}" for o in self.outputs))
        return "\n".join(lines)


def compile_kernel(inputs: Sequence[sympy.Symbol], outputs: Sequence[sympy.Expr]) -> Kernel:
    return Kernel(inputs, outputs)
