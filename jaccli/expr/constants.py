"""Arithmetic of constants inside an expression, folded as NumPy would compute it (IEEE float64), never as
exact big arithmetic that could run for minutes (``9**9**9``) or raise (SymPy's ``2.5/Float(0)``)."""
from __future__ import annotations

import numpy as np
import sympy

from jaccli.functions import number

MAX_EXACT_BITS = 4096  # larger constant powers are folded in float64 (overflowing to inf, as NumPy would)


def fold_power(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    """``base**exp`` for two constants: exact while small, float64 otherwise (inf on overflow, nan if complex)."""
    if base.is_Rational and exp.is_Integer:
        bits = max(abs(base.p).bit_length(), abs(base.q).bit_length())
        if bits * abs(int(exp)) <= MAX_EXACT_BITS and not (base == 0 and exp < 0):
            return sympy.Pow(base, exp)
    with np.errstate(all="ignore"):
        return number(float(np.power(np.float64(float(base)), np.float64(float(exp)))))


def is_zero(v: sympy.Expr) -> bool:
    """A constant zero, exact or float: with SymPy 1.14 ``Float(0.0) == 0`` is False, ``is_zero`` is True."""
    return bool(v.is_number and v.is_zero)


def divide(u: sympy.Expr, v: sympy.Expr) -> sympy.Expr:
    if u.is_number and is_zero(v):  # IEEE, as NumPy: 1.0/0.0 is inf, 0.0/0.0 is nan (SymPy's mpmath would raise)
        with np.errstate(all="ignore"):
            return number(float(np.float64(float(u)) / np.float64(0.0)))
    return u / v


def log10_power(base: sympy.Expr, exp: sympy.Expr) -> str:
    """log10(|base|**exp), for a message about a power too large to compute."""
    with np.errstate(all="ignore"):
        value = float(exp) * np.log10(abs(float(base)))
    return f"{value:.3g}" if np.isfinite(value) else "inf"
