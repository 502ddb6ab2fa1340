"""verify: symbolic derivatives agree with finite differences on every function, and a wrong rule is caught."""
from __future__ import annotations

import dataclasses
import re
from typing import Callable

import numpy as np
import pytest
from sympy.core.cache import clear_cache

from jaccli.expr.scope import make_scope
from jaccli.plan.engine import plan_jacobian
from jaccli.errors import UsageError
from jaccli.functions import SYMPY, TABLE, F
from jaccli.checks.verify import sample_rows, verify
from function_data import FUNCTIONS

B = 5  # small batches keep the whole file fast; every row still checks every derivative element

def check(expression: str, arrays: dict[str, np.ndarray], order: int, scope=None, **kwargs):
    """Plan ``expression`` at ``order`` and verify it; the scope defaults to the arrays' event shapes."""
    scope = scope or make_scope({k: a.shape[1:] for k, a in arrays.items()})
    return verify(plan_jacobian(expression, scope, order, np.float64), arrays, **kwargs)


def assert_ok(report) -> None:
    assert report.ok, report.summary()
    assert report.kinks == 0, report.summary()
    assert report.values_checked > 0


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_elementwise_functions_pass(name: str, order: int):
    """Every function of tests/function_data.py, on random draws from its smooth domain."""
    fn = FUNCTIONS[name]
    x = fn.domain(np.random.default_rng(sorted(FUNCTIONS).index(name)), B)
    report = check(fn.expression, {"x": x}, order)
    assert_ok(report)
    assert sorted(report.errors_by_order) == list(range(1, order + 1))  # every link of the chain was checked


@pytest.mark.parametrize("expression", ["sum(x**3)", "prod(x)", "mean(sin(x))", "norm(x)", "logsumexp(x)",
                                        "dot(x, x)", "norm(x) * logsumexp(2*x) - prod(x)**2"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_reductions_pass(expression: str, order: int):
    x = np.random.default_rng(1).uniform(0.5, 1.5, (B, 3))
    assert_ok(check(expression, {"x": x}, order))


@pytest.mark.parametrize("expression", ["[x[0]*cos(x[1]), x[0]*sin(x[1])]",
                                        "[[x[0], x[1]**2], [x[0]*x[1], exp(x[1])]]", "x * x[::-1] / 2.5"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_stacked_targets_pass(expression: str, order: int):
    x = np.random.default_rng(2).uniform(0.5, 2.0, (B, 2))
    assert_ok(check(expression, {"x": x}, order))


@pytest.mark.parametrize("expression", ["sin(x) * x[1, 0, 1]", "sum(x**2) * prod(x[0])", "dot(x, x[0])"])
@pytest.mark.parametrize("order", [1, 2])
def test_rank_3_source_passes(expression: str, order: int):
    x = np.random.default_rng(3).uniform(0.5, 1.5, (3, 2, 2, 2))
    report = check(expression, {"x": x}, order)
    assert_ok(report)


def test_csv_columns_as_the_whole_row():
    scope = make_scope({"x": (2,)}, columns=["r", "theta"], row="x", wrt="x")
    x = np.random.default_rng(4).uniform(0.5, 2.0, (B, 2))
    for order in (1, 2, 3):
        assert_ok(check("[r*cos(theta), r*sin(theta)]", {"x": x}, order, scope))


@pytest.mark.parametrize("wrt", ["r", "theta"])
def test_csv_one_column_source_perturbs_only_that_column(wrt: str):
    scope = make_scope({"x": (2,)}, columns=["r", "theta"], row="x", wrt=wrt)
    x = np.random.default_rng(5).uniform(0.5, 2.0, (B, 2))
    report = check("[r*cos(theta), r**2*sin(theta)]", {"x": x}, 3, scope)
    assert_ok(report)
    assert report.values_checked == 3 * B * 2  # S = (): two values per row at each of the three orders


def test_defines_and_constant_arrays_are_held_fixed():
    rng = np.random.default_rng(6)
    arrays = {"x": rng.uniform(0.5, 2.0, (B, 2)), "w": rng.uniform(-1.0, 1.0, (B, 2))}
    scope = make_scope({"x": (2,), "w": (2,)}, defines={"a": 2.5, "n": 3})
    for order in (1, 2, 3):
        assert_ok(check("a*x**n + exp(-a*x)/n + dot(x, w)*sin(x[0]*w[1])", arrays, order, scope))
    scope_w = make_scope({"x": (2,), "w": (2,)}, defines={"a": 2.5}, wrt="w")
    assert_ok(check("a * dot(x, w) * sin(x[0]*w[1])", arrays, 2, scope_w))


def test_float32_plan_is_checked_in_float64():
    x = np.random.default_rng(7).uniform(0.5, 2.0, (B, 2)).astype(np.float32)
    plan = plan_jacobian("exp(x) * log(x[::-1])", make_scope({"x": (2,)}), 2, np.float32)
    report = verify(plan, {"x": x})
    assert_ok(report)
    assert report.max_rel_error < 1e-9


def test_target_without_the_source_checks_zeros():
    rng = np.random.default_rng(8)
    arrays = {"x": rng.uniform(0.5, 2.0, (B, 2)), "w": rng.uniform(0.5, 2.0, (B, 2))}
    report = check("sin(w) * 3", arrays, 2)
    assert_ok(report)
    assert report.max_rel_error == 0.0


# --- corrupted rules fail --------------------------------------------------------------------------------------
@pytest.fixture
def corrupt(monkeypatch):
    """Replace one function's derivative rule everywhere SymPy or the deriver could read it."""
    clear_cache()

    def apply(name: str, rule: Callable) -> None:
        cls = SYMPY[name]
        row = dataclasses.replace(TABLE[name], derivative=lambda *args: (rule(*args),))
        monkeypatch.setattr(cls, "fdiff", lambda self, argindex=1: rule(*self.args))
        monkeypatch.setattr(cls, "jaccli_row", row)
        monkeypatch.setitem(TABLE, name, row)

    yield apply
    monkeypatch.undo()
    clear_cache()


@pytest.mark.parametrize("order", [1, 2, 3])
def test_wrong_first_derivative_fails_at_every_order(corrupt, order: int):
    corrupt("sin", lambda u: 2 * F.cos(u))
    report = check("sin(x)", {"x": np.random.default_rng(9).uniform(-2, 2, (B, 2))}, order)
    assert not report.ok
    assert report.failures > 0 and report.worst_order == 1  # sin'' = -2 sin is consistent: order 1 catches it
    assert report.max_rel_error == pytest.approx(1.0)
    lines = report.summary().splitlines()
    assert lines[0].endswith("over tolerance)") and "FAILED" in lines[0]
    assert re.fullmatch(r"verify: worst at order 1 \[batch=\d, target\.0=(\d), x\.0:d1=\1\]: symbolic \S+, "
                        r"numerical \S+", lines[1])


def test_wrong_second_derivative_fails_at_order_2(corrupt):
    corrupt("cos", lambda u: -2 * F.sin(u))
    x = {"x": np.random.default_rng(10).uniform(-2, 2, (B, 2))}
    assert check("sin(x)", x, 1).ok
    report = check("sin(x)", x, 2)
    assert not report.ok and report.worst_order == 2
    assert report.errors_by_order[1] <= 1e-6


def test_corrupted_derivative_is_found_in_a_sample(corrupt):
    corrupt("exp", lambda u: 1.001 * F.exp(u))
    x = np.random.default_rng(11).uniform(-1, 1, (40, 2))
    report = check("exp(x)", {"x": x}, 1, rows=6, seed=3)
    assert not report.ok and report.rows_checked == 6
    assert report.worst_index[0] in set(sample_rows(40, 6, 3).tolist())


# --- kinks -----------------------------------------------------------------------------------------------------
def test_relu_at_zero_is_a_kink_not_a_failure():
    x = np.array([[0.0, 1.0], [-1.0, 0.0], [0.5, -0.5]])
    report = check("relu(x)", {"x": x}, 1)
    assert report.ok and report.kinks == 2 and report.failures == 0
    assert report.summary().splitlines()[1] == (
        "verify: 2 kink points skipped (not differentiable, at a domain edge, or below finite-difference "
        "resolution), first at [batch=0, target.0=0, x.0:d1=0]")


@pytest.mark.parametrize("expression, x", [
    ("maximum(x[0], x[1])", [[1.0, 1.0], [2.0, 0.5]]),  # a tie: TF gives the whole derivative to a
    ("sqrt(x)", [[0.0, 1.0], [2.0, 3.0]]),  # sqrt'(0) = inf; the left neighbour is nan
    ("sign(x) + floor(x)", [[0.0, 1.0], [2.5, -0.5]]),  # jumps: the central difference runs away
    ("x * abs(x)", [[0.0, 1e-5], [2.0, -1.0]]),  # C1 only; at 1e-5 the steps straddle the kink
])
@pytest.mark.parametrize("order", [1, 2])
def test_other_kinks_are_skipped(expression: str, x: list, order: int):
    report = check(expression, {"x": np.array(x)}, order)
    assert report.ok and report.failures == 0, report.summary()


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("name", sorted(name for name, fn in FUNCTIONS.items() if fn.kinks))
def test_every_functions_kinks_are_skipped_or_agree(name: str, order: int):
    """At the kinks, ties and bounds of tests/function_data.py: skipped where the differences straddle them."""
    fn = FUNCTIONS[name]
    x = np.array([point for point, _ in fn.kinks], dtype=np.float64)
    report = check(fn.expression, {"x": x.reshape(len(x), -1)}, order)
    assert report.ok and report.failures == 0, report.summary()


def test_values_below_finite_difference_resolution_are_skipped():
    # tanh'(30) = 4e-26 next to tanh(30) = 1: no step can see it. The row at 0.5 is checked as usual.
    report = check("tanh(x)", {"x": np.array([[30.0], [0.5]])}, 1)
    assert report.ok and report.kinks == 1 and report.values_checked == 1


def test_saturated_softmax_is_skipped_not_failed():
    # Derivatives of 1e-10 and 1e-33 computed from softmax values ~1: finite differences cannot resolve them,
    # and what is skipped at order 2 is not used to check order 3.
    x = np.array([[13.29194323, -61.41381929], [-60.45692863, -81.5661168], [0.3, -0.2]])
    report = check("logsumexp(x)", {"x": x}, 3)
    assert report.failures == 0 and report.kinks > 0, report.summary()


def test_a_function_turning_within_one_step_is_skipped():
    # cos(1e8 x) turns ~1e5 times within the first step: the differences only see aliasing.
    x = np.random.default_rng(14).uniform(0.5, 2.0, (B, 1))
    report = check("cos(1e8 * x)", {"x": x}, 1)
    assert report.failures == 0 and report.kinks == B, report.summary()


# --- sampling and reporting -----------------------------------------------------------------------------------
def test_sampling_is_seeded_and_bounded():
    assert list(sample_rows(5, None, 0)) == [0, 1, 2, 3, 4]
    assert list(sample_rows(5, 9, 0)) == [0, 1, 2, 3, 4]
    picked = sample_rows(100, 10, 7)
    assert len(set(picked.tolist())) == 10 and list(picked) == sorted(picked)
    assert np.array_equal(picked, sample_rows(100, 10, 7))
    with pytest.raises(UsageError):
        sample_rows(5, 0, 0)


def test_summary_when_ok():
    x = np.random.default_rng(12).uniform(0.5, 2.0, (4, 2))
    report = check("x*x*x", {"x": x}, 2, rows=3)
    assert report.rows_checked == 3 and report.values_checked == 3 * (4 + 8)
    assert re.fullmatch(r"verify: order 2, 3 rows, 36 values, max rel error \S+ \(tolerance 1e-06\): ok",
                        report.summary())


def test_tolerance_overrides_the_default(corrupt):
    corrupt("exp", lambda u: 1.001 * F.exp(u))
    x = {"x": np.random.default_rng(13).uniform(-1, 1, (B, 2))}
    assert not check("exp(x)", x, 1).ok
    assert check("exp(x)", x, 1, tolerance=1e-2).ok


def test_order_0_is_refused():
    x = np.ones((2, 2))
    with pytest.raises(UsageError):
        check("x", {"x": x}, 0)
