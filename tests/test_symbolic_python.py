"""``jaccli symbolic --form python`` emits a runnable NumPy function: exec it, call it per example, and compare
with the engine's batch Jacobian (the same formulas, so agreement to a few ulps; the engine itself is checked
against mpmath in test_derivatives.py)."""
from __future__ import annotations

import numpy as np
import pytest

from jaccli import batch_jacobian
from jaccli.functions import ELEMENTWISE, ROWS, SYMPY
from jaccli.symbolic.python_form import HELPERS
from jaccli.symbolic.render import _numpy_name

RNG = np.random.default_rng(7)


def emitted(jaccli_cli, *args: str) -> dict:
    result = jaccli_cli("symbolic", *args, "--form", "python")
    assert result.exit_code == 0, result.stderr
    namespace: dict = {}
    exec(compile(result.stdout, "<symbolic --form python>", "exec"), namespace)  # noqa: S102 - our own output
    return namespace


CASES = [
    ("x*x*x", "3", 1, "x"),
    ("x*x*x", "3", 2, "x"),
    ("[x[0]*cos(x[1]), x[0]*sin(x[1])]", "2", 2, "x"),
    ("sigmoid(x)*softplus(x) + relu(x)*erf(x) - erfc(x)", "4", 2, "x"),
    ("tanh(x)**2 + atanh(x/3) + asin(x/4) + acos(x/5) + atan(x)", "3", 3, "x"),
    ("atan2(x[0], x[1]) + hypot(x[1], x[2])*asinh(x[0])", "3", 2, "x"),
    ("maximum(x[0], x[1]) * minimum(x[1], x[2]) + abs(x[0]) * sign(x[1])", "3", 1, "x"),
    ("pow(x[0] + 2, x[1]) + norm(x) + logsumexp(x) + prod(x)", "3", 2, "x"),
    ("sum(x*x) + dot(x, x[::-1]) + mean(x)", "4", 2, "x"),
    ("sqrt(x + 3) * cbrt(x + 3) * log1p(x + 2) * log2(x + 3) * log10(x + 3) * expm1(x) * cosh(x) * sinh(x)",
     "2", 2, "x"),
    ("x[0, 1] * x[1, 0] + sin(x) * tan(x / 4)", "2,2", 1, "x"),
    ("x**3", "", 3, "x"),
    ("where(x < 0.2, x*x, sin(x)) + clip(x, -0.5, 0.5) * square(x)", "3", 2, "x"),
    ("softmax(x) * log_softmax(x)[0]", "3", 2, "x"),
]


@pytest.mark.parametrize("expression, shape, order, wrt", CASES, ids=[f"{e} k={k}" for e, _, k, _ in CASES])
def test_emitted_function_matches_the_engine(jaccli, expression, shape, order, wrt):
    derivative = emitted(jaccli, expression, "--shape", shape, "-k", str(order))["derivative"]
    event = tuple(int(n) for n in shape.split(",")) if shape else ()
    x = RNG.uniform(-0.9, 0.9, size=(5,) + event)
    expected = batch_jacobian(expression, x, order=order)
    got = np.stack([derivative(example) for example in x])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_columns_and_other_arrays_are_arguments(jaccli, tmp_path):
    derivative = emitted(jaccli, "[r*cos(theta), r*sin(theta)]", "--columns", "r,theta", "-k", "2")["derivative"]
    x = RNG.uniform(0.5, 2.0, size=(4, 2))
    expected = batch_jacobian("[r*cos(theta), r*sin(theta)]", x, order=2, names=["r", "theta"])
    np.testing.assert_allclose(np.stack([derivative(row) for row in x]), expected, rtol=1e-13, atol=1e-15)
    npz = tmp_path / "p.npz"
    x, w = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 3))
    np.savez(npz, x=x, w=w, bias=np.float64(0.25))
    derivative = emitted(jaccli, "softplus(dot(w, x) + bias)", str(npz))["derivative"]
    expected = batch_jacobian("softplus(dot(w, x) + bias)", {"x": x, "w": w, "bias": np.float64(0.25)})
    np.testing.assert_allclose(np.stack([derivative(a, b) for a, b in zip(x, w)]), expected, rtol=1e-13)


def test_unconnected_target_returns_none(jaccli, tmp_path):
    np.savez(tmp_path / "p.npz", x=np.ones((2, 2)), y=np.ones((2, 2)))
    assert emitted(jaccli, "y*y", str(tmp_path / "p.npz"))["derivative"](np.ones(2), np.ones(2)) is None


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_every_function_prints_as_numpy_or_a_helper(row):
    name = _numpy_name(SYMPY[row.name])
    assert name.startswith("np.") or name in HELPERS, name
    if name.startswith("np."):
        assert hasattr(np, name[3:])


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_helpers_agree_with_the_table(name):
    from jaccli.functions import TABLE

    namespace: dict = {"np": np, "math": __import__("math")}
    exec(HELPERS[name], namespace)  # noqa: S102 - fixed source in jaccli
    row = TABLE[name]
    n = row.nargs or 3
    args = [RNG.uniform(-2, 2) for _ in range(n)]
    assert float(namespace[name](*args)) == pytest.approx(float(row.numpy(*[np.float64(a) for a in args])),
                                                         rel=1e-14, abs=1e-300)
    assert name in ELEMENTWISE or row.internal
