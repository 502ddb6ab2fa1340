"""Per-function test data: one entry per elementwise or selection function users call (``jaccli/catalog.py``).

Adding an elementwise or selection function (the catalog's kinds with a derivative row in ``jaccli/functions.py``)
takes an entry in ``FUNCTIONS`` below too: ``test_function_data.py`` fails until it exists. An entry says, for one
function:

- ``reference``: an mpmath implementation written independently of jaccli (never its formulas), of the
  entry's ``expression``; tests differentiate it with ``oracle.mp_batch`` at 30 digits.
- ``points``: float64 points for that comparison, inside the domain, away from kinks, and away from zeros of the
  first three derivatives (where a relative error means nothing). A float is one example ``x`` with ``S = ()``; a
  tuple is one example ``(x[0], x[1], ...)``.
- ``domain``: where it is smooth, as random draws ``(rng, rows) -> (rows, k)``: inside the domain and away from
  kinks by much more than a finite-difference step (~1e-3); ``verify`` is checked there.
- ``kinks``: points on (and around) its kinks, ties or bounds, each with the first derivative TensorFlow's
  convention gives there (the README's function table); every higher derivative there is 0.
- ``exact``: points where the first three derivatives are known exactly: the one-sided limits (+-inf) at the edge
  of its domain, or values exact in binary.
- ``derivatives`` and ``extremes``: hand-derived closed forms of the first three derivatives (mpmath) and huge or
  tiny points where jaccli must stay accurate (the stable forms of ``functions.py``).

Readers: test_derivatives (mpmath table, float32, kinks, exact points, stability), test_verify (domains, kinks),
test_fuzz (names by arity) and test_function_data (this table against the function table).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import mpmath
import numpy as np

from jaccli.catalog import CATALOG

Draw = Callable[[np.random.Generator, int], np.ndarray]  # (rng, rows) -> x of shape (rows, k)


# --- smooth domains --------------------------------------------------------------------------------------------
def uniform(lo: float, hi: float) -> Draw:
    return lambda rng, b: rng.uniform(lo, hi, (b, 2))


def away_from_zero(rng: np.random.Generator, b: int) -> np.ndarray:
    return rng.choice([-1.0, 1.0], (b, 2)) * rng.uniform(0.3, 2.0, (b, 2))


def away_from_integers(rng: np.random.Generator, b: int) -> np.ndarray:
    return rng.integers(-3, 3, (b, 2)) + rng.uniform(0.2, 0.8, (b, 2))


def without_ties(rng: np.random.Generator, b: int) -> np.ndarray:
    a = rng.uniform(-2.0, 2.0, b)
    return np.stack([a, a + rng.choice([-1.0, 1.0], b) * rng.uniform(0.3, 1.0, b)], axis=1)


def clip_away_from_bounds(rng: np.random.Generator, b: int) -> np.ndarray:
    """(x, lo, hi) with x below, inside or above [lo, hi], at least 0.3 from either bound."""
    lo = rng.uniform(-2.0, -1.0, b)
    hi = rng.uniform(1.0, 2.0, b)
    where = rng.integers(0, 3, b)
    x = np.choose(where, [lo - 0.5, (lo + hi) / 2, hi + 0.5])
    return np.stack([x, lo, hi], axis=1)


def base_and_exponent(rng: np.random.Generator, b: int) -> np.ndarray:
    return np.stack([rng.uniform(0.5, 3.0, b), rng.uniform(-2.0, 2.0, b)], axis=1)


# --- independent references (mpmath, module level so that oracle.mp_derivative's memo is shared) -----------------
def _mp_cbrt(t):
    return mpmath.sign(t) * mpmath.cbrt(abs(t))  # mpmath.cbrt of a negative number is the complex principal root


def _mp_clip(a, lo, hi):
    return min(max(a, lo), hi)


def _mp_where(a, b):
    return mpmath.sin(a * b) if a < b else b**3 - a


def _sig(t):
    return 1 / (1 + mpmath.exp(-t))


def _sig2(t):
    return _sig(t) * _sig(-t)  # sigmoid' without the cancellation of s*(1 - s) (at 60 digits 1 - s is 0 at x = 1000)


def _sech2(t):
    return mpmath.sech(t) ** 2


# Hand-derived d1, d2, d3. sigmoid'' = s'(1 - 2s) = -s' tanh(x/2) and sigmoid''' = s'(1 - 6s'): free of
# cancellation near 0 and at |x| = 1000 (a reference must not share the bug it looks for).
SIGMOID_D = (_sig2, lambda t: -_sig2(t) * mpmath.tanh(t / 2), lambda t: _sig2(t) * (1 - 6 * _sig2(t)))
SOFTPLUS_D = (_sig,) + SIGMOID_D[:2]
TANH_D = (_sech2, lambda t: -2 * mpmath.tanh(t) * _sech2(t),
          lambda t: (4 * mpmath.tanh(t) ** 2 - 2 * _sech2(t)) * _sech2(t))
ERF_D = (lambda t: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-t**2),
         lambda t: -4 * t / mpmath.sqrt(mpmath.pi) * mpmath.exp(-t**2),
         lambda t: 4 * (2 * t**2 - 1) / mpmath.sqrt(mpmath.pi) * mpmath.exp(-t**2))
ERFC_D = tuple(lambda t, d=d: -d(t) for d in ERF_D)
LOG1P_D = (lambda t: 1 / (1 + t), lambda t: -1 / (1 + t) ** 2, lambda t: 2 / (1 + t) ** 3)
EXPM1_D = (mpmath.exp,) * 3

INF = float("inf")
HUGE_AND_TINY = (1000.0, -1000.0, 1e300, -1e300, 1e-300, -1e-300)


@dataclass(frozen=True)
class Fn:
    """One function's test data (see the module docstring)."""

    reference: Callable[..., object]
    points: tuple
    domain: Draw
    call: str | None = None  # the expression tests use, when not name(x) or name(x[0], x[1], ...)
    kinks: tuple = ()  # (point, first derivative there by TF's convention)
    exact: tuple = ()  # (point, (d1, d2, d3) there, exactly)
    derivatives: tuple = ()  # closed forms of d1, d2, d3
    extremes: tuple = ()  # points where those closed forms check accuracy
    also: tuple[str, ...] = ()  # other spellings of the same function (the ** operator is pow)
    name: str = ""  # filled in from the FUNCTIONS key

    @property
    def expression(self) -> str:
        if self.call:
            return self.call
        if isinstance(self.points[0], tuple):
            return f"{self.name}({', '.join(f'x[{i}]' for i in range(len(self.points[0])))})"
        return f"{self.name}(x)"

    @property
    def arity(self) -> int:
        """How many scalar arguments ``expression`` reads: 1 is ``x`` with ``S = ()``, n > 1 is ``x[0..n-1]``."""
        return len(self.points[0]) if isinstance(self.points[0], tuple) else 1


ONE = (-1.3, 0.45, 2.2)  # O(1) points of both signs, for functions smooth on the whole line
POSITIVE = (0.2, 1.9, 7.0)
UNIT = (-0.8, 0.15, 0.6)  # inside (-1, 1)
AROUND_ZERO = (-1.7, 0.6, 2.3)  # kinked functions at 0 (and floor/ceil at integers): away from all of them
PAIRS = ((1.3, -0.6), (-0.8, 2.1), (0.5, 0.9))  # no ties here: ties are kinks
ZERO_KINK = ((0.0, 0.0), (-0.0, 0.0))
FLAT = ((0.0, 0.0), (-0.0, 0.0), (1.0, 0.0), (-2.0, 0.0), (2.5, 0.0))  # sign, floor, ceil: 0 on and off the kinks
CLIP_BOUNDS = (  # tf.clip_by_value: to x unless x < lo or x > hi (bounds included); to lo below; to hi above
    ((-1.0, -1.0, 2.0), (1.0, 0.0, 0.0)), ((2.0, -1.0, 2.0), (1.0, 0.0, 0.0)), ((-3.0, -1.0, 2.0), (0.0, 1.0, 0.0)),
    ((5.0, -1.0, 2.0), (0.0, 0.0, 1.0)), ((0.5, -1.0, 2.0), (1.0, 0.0, 0.0)))


TIES = (((1.0, 1.0), (1.0, 0.0)), ((-0.0, 0.0), (1.0, 0.0)))  # maximum, minimum: a tie goes to the first argument


_ENTRIES: dict[str, Fn] = {
    # --- powers, roots, exponentials, logarithms
    "sqrt": Fn(mpmath.sqrt, (0.3, 1.7, 5.5), uniform(0.5, 3),  # sqrt^(k)(x) ~ x**(1/2 - k): +-inf at 0
               exact=((0.0, (INF, -INF, INF)), (4.0, (0.25, -1 / 32, 3 / 256)))),
    "cbrt": Fn(_mp_cbrt, (-2.3, 0.4, 3.1), away_from_zero,  # cbrt''(x) = -2/9 x**(-5/3): zero's sign picks the side
               exact=((0.0, (INF, -INF, INF)), (-0.0, (INF, INF, INF)))),
    "exp": Fn(mpmath.exp, ONE, uniform(-2, 2)),
    "expm1": Fn(mpmath.expm1, ONE, uniform(-2, 2), derivatives=EXPM1_D, extremes=(-1000.0, -1e300, 1e-300, -1e-300)),
    "log": Fn(mpmath.log, POSITIVE, uniform(0.5, 3)),
    "log1p": Fn(mpmath.log1p, (-0.6, 0.4, 3.0), uniform(-0.5, 2), derivatives=LOG1P_D,
                extremes=(1000.0, 1e300, 1e-300, -1e-300)),
    "log2": Fn(lambda t: mpmath.log(t, 2), POSITIVE, uniform(0.5, 3)),
    "log10": Fn(mpmath.log10, POSITIVE, uniform(0.5, 3)),
    "pow": Fn(lambda a, b: a**b, ((1.7, 2.3), (0.4, -1.6), (2.5, 0.7)), base_and_exponent, also=("x[0]**x[1]",)),
    "square": Fn(lambda t: t * t, ONE, uniform(-2, 2)),
    # --- trigonometric and hyperbolic
    "sin": Fn(mpmath.sin, ONE, uniform(-3, 3)),
    "cos": Fn(mpmath.cos, ONE, uniform(-3, 3)),
    "tan": Fn(mpmath.tan, (-1.3, 0.45, 1.2), uniform(-1, 1)),
    "asin": Fn(mpmath.asin, UNIT, uniform(-0.6, 0.6)),
    "acos": Fn(mpmath.acos, UNIT, uniform(-0.6, 0.6)),
    "atan": Fn(mpmath.atan, ONE, uniform(-3, 3)),
    "sinh": Fn(mpmath.sinh, ONE, uniform(-2, 2)),
    "cosh": Fn(mpmath.cosh, ONE, uniform(-2, 2)),
    "tanh": Fn(mpmath.tanh, ONE, uniform(-2, 2), derivatives=TANH_D,
               extremes=(1000.0, -1000.0, 1e300, -1e300, 1e-300, 20.0, -20.0)),
    "asinh": Fn(mpmath.asinh, ONE, uniform(-3, 3)),
    "acosh": Fn(mpmath.acosh, (1.2, 2.5, 6.0), uniform(1.5, 3)),
    "atanh": Fn(mpmath.atanh, UNIT, uniform(-0.5, 0.5)),
    "atan2": Fn(mpmath.atan2, PAIRS, away_from_zero),
    "hypot": Fn(mpmath.hypot, PAIRS, away_from_zero),
    # --- special functions
    "erf": Fn(mpmath.erf, ONE, uniform(-2, 2), derivatives=ERF_D, extremes=HUGE_AND_TINY[:5]),
    "erfc": Fn(mpmath.erfc, ONE, uniform(-2, 2), derivatives=ERFC_D, extremes=HUGE_AND_TINY[:5]),
    "sigmoid": Fn(_sig, ONE, uniform(-4, 4), derivatives=SIGMOID_D, extremes=HUGE_AND_TINY + (30.0, -30.0)),
    "softplus": Fn(lambda t: mpmath.log1p(mpmath.exp(t)), ONE, uniform(-4, 4), derivatives=SOFTPLUS_D,
                   extremes=HUGE_AND_TINY + (30.0, -30.0)),
    # --- kinks: TensorFlow's conventions
    "abs": Fn(abs, AROUND_ZERO, away_from_zero,
              kinks=ZERO_KINK + ((1.0, 1.0), (-2.0, -1.0), (2.5, 1.0))),
    "sign": Fn(mpmath.sign, AROUND_ZERO, away_from_zero, kinks=FLAT),
    "relu": Fn(lambda t: max(t, 0), AROUND_ZERO, away_from_zero,
               kinks=ZERO_KINK + ((1.0, 1.0), (-2.0, 0.0), (2.5, 1.0))),
    "floor": Fn(mpmath.floor, AROUND_ZERO, away_from_integers, kinks=FLAT),
    "ceil": Fn(mpmath.ceil, AROUND_ZERO, away_from_integers, kinks=FLAT),
    "clip": Fn(_mp_clip, ((-2.5, -1.0, 1.5), (0.3, -1.0, 1.5), (2.2, -1.0, 1.5), (0.7, 0.2, 0.9)),
               clip_away_from_bounds, kinks=CLIP_BOUNDS),
    # where's reference is that of its expression: a sin branch and a cubic one, chosen by x[0] < x[1]
    "where": Fn(_mp_where, ((0.3, 1.1), (1.4, -0.6), (-0.8, 0.5)), without_ties,
                call="where(x[0] < x[1], sin(x[0] * x[1]), x[1]**3 - x[0])"),
    "maximum": Fn(max, PAIRS, without_ties, kinks=TIES + (((2.0, 3.0), (0.0, 1.0)),)),  # no tie: to the larger
    "minimum": Fn(min, PAIRS, without_ties, kinks=TIES + (((2.0, 3.0), (1.0, 0.0)),)),
}
FUNCTIONS: dict[str, Fn] = {name: replace(fn, name=name) for name, fn in _ENTRIES.items()}


def names(arity: int) -> list[str]:
    """The functions whose ``expression`` reads ``arity`` scalar arguments (1: ``x``; n > 1: ``x[0..n-1]``)."""
    return sorted(name for name, fn in FUNCTIONS.items() if fn.arity == arity)


def plain_names(arity: int) -> list[str]:
    """The functions of ``arity`` arguments that take any expression as every argument (what a grammar may nest):
    not the catalog's condition rows (``where``, whose first argument is a comparison)."""
    return [name for name in names(arity) if not CATALOG[name].condition]
