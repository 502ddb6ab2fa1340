"""SymPy expressions -> a NumPy kernel: a straight-line program evaluated over whole arrays.

``Kernel(inputs, outputs)`` flattens every expression into a ``Program`` (plan/program.py) of NumPy calls, emitting each
distinct subexpression once (hash-consing: SymPy expressions are hashable, so the 20 000 partials of a Hessian
share every subtree they have in common; ``sympy.cse`` finds a little more but costs seconds on such sets). The
kernel is *interpreted*, not generated as source and ``exec``'d: nothing is ever compiled from text, and the
per-step overhead (microseconds) vanishes next to array work over a batch.

Arithmetic keeps the inputs' float dtype: constants enter as Python floats, which NumPy treats as weakly typed,
so float32 data is evaluated in float32 throughout, as TensorFlow would.
"""
from __future__ import annotations

from typing import Sequence

import sympy

from jaccli.plan.program import Program

Ref = int | float  # a register number, or a constant folded into the instruction


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
        self._code: list[tuple[str, tuple[Ref, ...]]] = []
        self._regs: dict[sympy.Expr, Ref] = {s: i for i, s in enumerate(inputs)}
        self._n = len(inputs)
        self._numbered: dict[tuple, int] = {}  # (op, args) -> register: one instruction per distinct value
        self._popularity = _factor_counts(outputs)
        outs = [self._emit(e) for e in outputs]
        consts: dict[tuple[float, str], int] = {}  # keyed by repr too: -0.0 and 0.0 stay distinct constants

        def encode(r: Ref) -> int:
            if isinstance(r, int):
                return r
            key = (r, repr(r))
            return -1 - consts.setdefault(key, len(consts))

        code = tuple((op, tuple(encode(a) for a in args)) for op, args in self._code)
        outputs_enc = tuple(encode(o) for o in outs)
        self.program = Program(self.n_inputs, code, tuple(k[0] for k in consts), outputs_enc)

    # --- compilation -------------------------------------------------------------------------------------
    def _new(self, name: str, *args: Ref) -> int:
        key = (name,) + tuple((repr(a),) if isinstance(a, float) else a for a in args)  # -0.0 is not 0.0
        if key in self._numbered:
            return self._numbered[key]
        self._numbered[key] = self._n
        out = self._n
        self._n += 1
        self._code.append((name, args))
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
            return self._new("exp", self._emit(e.args[0]))
        if isinstance(e, sympy.log) and len(e.args) == 1:
            return self._new("log", self._emit(e.args[0]))
        row = getattr(type(e), "jaccli_row", None)
        if row is not None:
            return self._new(row.name, *[self._emit(a) for a in e.args])
        raise TypeError(f"kernel: no NumPy rule for SymPy node {name}: {e}")  # a bug, not a user error

    def _fold(self, name: str, refs: list[Ref]) -> Ref:
        acc = refs[0]
        for r in refs[1:]:
            acc = self._new(name, acc, r)
        return acc

    def _emit_mul(self, e: sympy.Expr) -> Ref:
        # a*b/(c*d) as one division: closer to what a person (or TF's chain rule) computes than a*b*(1/c)*(1/d).
        num: list[Ref] = []
        den: list[Ref] = []
        factors = list(e.args)
        if len(factors) > 2 and factors[0] == -1:
            # -a*b*c as (-a)*b*c, bit for bit the same (negation is exact), with -a shared: a Hessian's 1,000
            # off-diagonal -p_i*p_j then cost 50 negations, not 1,000.
            first = next((i for i, f in enumerate(factors[1:], 1) if not (f.is_Add or f.is_Number or
                                                                        (f.is_Pow and f.exp.is_negative))), None)
            if first is not None:
                factors = [-factors[first]] + factors[1:first] + factors[first + 1:]
        # Factors most partials share first, so that the products they start with are shared too: the
        # Hessian entries c*w_i*w_j of f(W x) cost one multiplication each once c and c*w_i are known.
        lead = factors[:1] if factors and factors[0] == -1 else []
        rest = factors[len(lead):]
        factors = lead + sorted(rest, key=lambda f: -self._popularity.get(f, 0))
        for f in factors:
            if f.is_Pow and f.exp.is_Integer and f.exp < 0:
                den.append(self._emit_pow(f.base, -f.exp))
            elif f == -1:
                num.insert(0, -1.0)
            else:
                num.append(self._emit(f))
        top: Ref
        if num and num[0] == -1.0 and len(num) > 1:
            top = self._new("neg", self._fold("mul", num[1:]))
        else:
            top = self._fold("mul", num) if num else 1.0
        if not den:
            return top
        bottom = self._fold("mul", den)
        return self._new("div", top, bottom)

    def _emit_pow(self, base: sympy.Expr, exp: sympy.Expr) -> Ref:
        b = self._emit(base)
        if exp == 1:
            return b
        if exp == 2:
            return self._new("square", b)
        if exp == -1:
            return self._new("recip", b)
        if exp == sympy.Rational(1, 2):
            return self._new("sqrt", b)
        if exp == sympy.Rational(-1, 2):
            return self._new("recip", self._new("sqrt", b))
        if exp.is_Integer:
            return self._new("ipow", b, float(exp))
        return self._new("ipow", b, self._emit(exp))

    @property
    def outputs(self) -> list[Ref]:
        """One register number (or float constant) per output expression."""
        p = self.program
        return [o if o >= 0 else p.consts[-o - 1] for o in p.outputs]

    # --- evaluation -------------------------------------------------------------------------------------
    def __call__(self, values: Sequence) -> list:
        return self.program(values)

    def __str__(self) -> str:
        return str(self.program)


def _factor_counts(outputs: Sequence[sympy.Expr]) -> dict[sympy.Expr, int]:
    """How many distinct products each factor appears in, over the whole set of outputs."""
    counts: dict[sympy.Expr, int] = {}
    seen: set = set()
    stack = list(outputs)
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if e.is_Mul:
            for f in e.args:
                counts[f] = counts.get(f, 0) + 1
        stack.extend(e.args)
    return counts
