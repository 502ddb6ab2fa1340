"""Finite where the truth is finite, and the nan rule: the differential run's findings, against mpmath.

Every reference is the exact derivative (hand-derived, or mpmath's own numerical differentiation at 50 digits),
evaluated in high precision and rounded once: never jaccli's formulas.
"""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

import jaccli
from jaccli.plan.rescue import wider

bj = jaccli.batch_jacobian
mpmath.mp.dps = 50


def _mp_diff(f, x: float, k: int) -> float:
    return float(mpmath.diff(f, mpmath.mpf(x), k))


def _close(got: float, ref: float, ulps: float = 8) -> bool:
    return abs(got - ref) <= ulps * np.spacing(abs(ref)) + 1e-300


# Compositions whose outer rule cancels against the inner derivative (functions.py, "identities").
COMPOSITIONS = [
    ("log1p(tanh(x))", lambda t: mpmath.log1p(mpmath.tanh(t)), -15.63151971618623, 1),
    ("log1p(tanh(x))", lambda t: mpmath.log1p(mpmath.tanh(t)), 20.0, 1),
    ("log1p(tanh(x))", lambda t: mpmath.log1p(mpmath.tanh(t)), 0.3, 2),
    ("atanh(tanh(x))", lambda t: t, -12.5, 1),
    ("atanh(tanh(x))", lambda t: t, 12.5, 2),
    ("asin(sin(x))", lambda t: t, 0.3, 1),
    ("acos(cos(x))", lambda t: t, 0.5, 1),
    ("acosh(cosh(x))", lambda t: t, 1e-5, 1),
    ("acosh(cosh(x))", lambda t: t, 3.0, 1),
]


@pytest.mark.parametrize("expression, f, x, k", COMPOSITIONS, ids=[f"{c[0]} at {c[2]:g} d{c[3]}" for c in COMPOSITIONS])
def test_compositions_cancel_exactly(expression, f, x, k):
    got = float(bj(expression, np.array([x]), order=k)[0])
    ref = _mp_diff(f, x, k)
    assert _close(got, ref), (got, ref)


@pytest.mark.skipif(wider(np.dtype(np.float64)) is None, reason="no wider format than float64 on this platform")
@pytest.mark.parametrize("expression, f, x, k, constants", [
    ("1/(1 + x**2)", lambda t: 1 / (1 + t**2), 1e200, 2, {}),
    ("sigmoid(x*x)", lambda t: 1 / (1 + mpmath.exp(-t * t)), 1e160, 2, {}),
    ("x*x*hypot(x, c)", lambda t: t * t * mpmath.hypot(t, mpmath.mpf(-1e200)), 1e154, 3, {"c": -1e200}),
])
def test_overflow_in_the_middle_is_rescued(expression, f, x, k, constants):
    got = float(bj(expression, np.array([x]), order=k, constants=constants)[0])
    with mpmath.workdps(60):
        ref = _mp_diff(f, x, k) if k < 3 else float(12 * mpmath.mpf(x) / mpmath.mpf(1e200))  # 12x/|c| (x << |c|)
    assert np.isfinite(got) and _close(got, ref, ulps=64), (got, ref)


@pytest.mark.skipif(wider(np.dtype(np.float64)) is None, reason="no wider format than float64 on this platform")
def test_overflow_in_one_partial_leaves_the_other_exact():
    x = np.array([[1e154, 1e-300]])
    got = bj("x[0]/(2 + sin(maximum(x[1], 0)*dot(x, x)))", x)[0]
    x0, x1 = mpmath.mpf(1e154), mpmath.mpf(1e-300)
    with mpmath.workdps(80):
        z = x1 * (x0**2 + x1**2)
        ref = 1 / (2 + mpmath.sin(z)) - x0 * mpmath.cos(z) * 2 * x0 * x1 / (2 + mpmath.sin(z)) ** 2
    # z = 1e8 carries its own rounding (1.5e-8 absolute) into sin(z): the problem's condition, not the derivative's.
    # Whether this lane is computed in float64 or (after an intermediate overflow) rescued in long double depends
    # on the kernel's product order, so the bound is float64's: |tan(z)| * 1.5e-8 relative, here below 1e-7.
    assert float(got[0]) == pytest.approx(float(ref), rel=1e-7)
    with mpmath.workdps(80):  # the true partial by x[1] is about 1e462: beyond float64, so inf is the truth
        ref1 = -x0 * mpmath.cos(z) * (x0**2 + 3 * x1**2) / (2 + mpmath.sin(z)) ** 2
    assert abs(ref1) > mpmath.mpf(10) ** 400 and got[1] == (np.inf if ref1 > 0 else -np.inf)


def test_rescue_keeps_float32_in_float32():
    got = bj("1/(1 + x**2)", np.array([1e30], np.float32), order=2)
    assert got.dtype == np.float32 and got[0] == 0.0


@pytest.mark.parametrize("expression, x, expected", [
    ("sqrt(x[0]) + x[1]", [-1.0, 2.0], [np.nan, np.nan]),  # TensorFlow says [nan, 1]: a nan value has no slope
    ("[sqrt(x[0]), x[1]]", [-1.0, 2.0], [[np.nan, np.nan], [0.0, 1.0]]),  # only the nan component
    ("log(x[0]) - log(x[0]) + x[1]", [-1.0, 2.0], [np.nan, np.nan]),
    ("sqrt(x[0]) + x[1]", [4.0, 2.0], [0.25, 1.0]),
    ("sqrt(x[0]) * x[1]", [0.0, 2.0], [np.inf, 0.0]),  # the value 0 is a number: sqrt'(0) = inf stays
])
def test_nan_rule(expression, x, expected):
    got = bj(expression, np.array([x]))[0]
    np.testing.assert_array_equal(got, np.array(expected))


def test_nan_rule_for_nan_inputs():
    got = bj("[x[0] + x[1], x[1]]", np.array([[np.nan, 2.0]]), allow_nonfinite=True)[0]
    np.testing.assert_array_equal(got, [[np.nan, np.nan], [0.0, 1.0]])


def test_nan_rule_is_the_same_for_every_chunking():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(301, 3))
    expression = "[sqrt(x[0]) * x[1], log(x[2]) + x[0]**2]"
    whole = bj(expression, x, order=2)
    assert np.isnan(whole).any() and np.isfinite(whole).any()
    for step in (1, 7, 300):
        assert bj(expression, x, order=2, parallel_iterations=step).tobytes() == whole.tobytes()
    assert bj(expression, x, order=2, pfor=False).tobytes() == whole.tobytes()


def test_nan_rule_for_nan_inputs_is_decided_example_by_example():
    """Row 0 is nan only by overflow (not looked for), row 1 holds a nan input: sharing a chunk changes nothing."""
    x = np.array([[1000.0, 1.0], [np.nan, 1.0]])
    expression = "exp(x[0]) - exp(x[0]) + x[1]"
    whole = bj(expression, x, allow_nonfinite=True)
    np.testing.assert_array_equal(whole, [[np.nan, 1.0], [np.nan, np.nan]])
    assert bj(expression, x, allow_nonfinite=True, parallel_iterations=1).tobytes() == whole.tobytes()
    orders = bj(expression, x, order=(0, 1), allow_nonfinite=True)
    assert orders[1].tobytes() == whole.tobytes()
