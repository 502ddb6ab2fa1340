"""render_symbolic / render_layout / plan_from_shape: exact lines for the showcase cases, and an oracle check that
the printed formulas (python form, evaluated with NumPy) rebuild exactly the tensor the engine computes."""
from __future__ import annotations


import numpy as np
import pytest

from jaccli.api import batch_jacobian
from jaccli.expr.scope import make_scope
from jaccli.plan.engine import plan_jacobian
from jaccli.errors import UsageError
from jaccli.symbolic.render import parse_shape, plan_from_shape, render_layout, render_symbolic

POLAR = "[r*cos(theta), r*sin(theta)]"


def show(expression: str, shape=(2,), order: int = 1, form: str = "plain", **kwargs) -> list[str]:
    max_lines = kwargs.pop("max_lines", 200)
    return render_symbolic(plan_from_shape(expression, shape, order, **kwargs), form, max_lines).splitlines()


# --- exact lines ---------------------------------------------------------------------------------------------
def test_elementwise_is_printed_once_with_its_diagonal_pattern():
    assert show("x*x*x") == ["d y[i] / d x[i] = 3*x[i]**2    for i in 0..1"]
    assert show("x*x*x", order=2) == ["d^2 y[i] / d x[i] d x[i] = 6*x[i]    for i in 0..1"]


def test_multi_dimensional_diagonal_uses_one_variable_per_axis():
    assert show("x*x*x", (2, 3)) == ["d y[i,j] / d x[i,j] = 3*x[i,j]**2    for i in 0..1, j in 0..2"]
    assert show("sum(x)", (2, 3)) == ["d y / d x[i,j] = 1    for i in 0..1, j in 0..2"]


def test_polar_columns_are_named():
    assert show(POLAR, None, columns=["r", "theta"]) == [
        "d y[0] / d r = cos(theta)",
        "d y[0] / d theta = -r*sin(theta)",
        "d y[1] / d r = sin(theta)",
        "d y[1] / d theta = r*cos(theta)",
    ]
    assert show(POLAR, None, columns=["r", "theta"], wrt="theta") == [
        "d y[0] / d theta = -r*sin(theta)",
        "d y[1] / d theta = r*cos(theta)",
    ]


def test_polar_second_order_lists_both_orderings():
    assert show(POLAR, None, 2, columns=["r", "theta"])[:3] == [
        "d^2 y[0] / d r d theta = -sin(theta)",
        "d^2 y[0] / d theta d r = -sin(theta)",
        "d^2 y[0] / d theta d theta = -r*cos(theta)",
    ]


def test_latex_form():
    assert show("x*x*x", order=2, form="latex") == [
        r"\frac{\partial^{2} y_{i}}{\partial x_{i}^{2}} = 6 x_{i} \quad \text{for } 0 \le i \le 1"]
    assert show(POLAR, None, columns=["r", "theta"], form="latex")[1] == \
        r"\frac{\partial y_{0}}{\partial \theta} = - r \sin{\left(\theta \right)}"
    assert show("atan2(x[0], x[1])", form="latex")[0] == \
        r"\frac{\partial y}{\partial x_{0}} = \frac{x_{1}}{\left(\operatorname{hypot}{\left(x_{0},x_{1} \right)}\right)^{2}}"


def test_python_form_uses_numpy_names():
    assert "    out[0, 1] = -r*np.sin(theta)" in show(POLAR, None, columns=["r", "theta"], form="python")
    assert show("asin(x) + sqrt(x) * pi", form="python")[-3:] == [
        "    for i in range(0, 2):", "        out[i, i] = 1/np.sqrt(1 - x[i]**2) + np.pi/(2*np.sqrt(x[i]))",
        "    return out"]
    lines = show("sigmoid(x)", form="python")
    assert "def sigmoid(v):" in lines and "        out[i, i] = sigmoid(-x[i])*sigmoid(x[i])" in lines


def test_stacked_and_shifted_patterns():
    assert show("[x*x, x]") == ["d y[0,i] / d x[i] = 2*x[i]    for i in 0..1", "d y[1,i] / d x[i] = 1    for i in 0..1"]
    assert show("x[1:]*x[:-1]", (4,)) == ["d y[i] / d x[i] = x[i+1]    for i in 0..2",
                                          "d y[i] / d x[i+1] = x[i]    for i in 0..2"]
    assert show("x*x[::-1]", (4,)) == ["d y[i] / d x[i] = x[3-i]    for i in 0..3",
                                       "d y[i] / d x[3-i] = x[i]    for i in 0..3"]


def test_entries_written_twice_are_summed_and_lanes_without_a_pattern_are_listed():
    assert show("x*x[::-1]", (3,)) == ["d y[0] / d x[0] = x[2]", "d y[0] / d x[2] = x[0]", "d y[1] / d x[1] = 2*x[1]",
                                       "d y[2] / d x[0] = x[2]", "d y[2] / d x[2] = x[0]"]
    assert show("x+x", (3,)) == ["d y[i] / d x[i] = 2    for i in 0..2"]
    assert show("x*a", None, columns=["a", "b", "c"]) == [
        "d y[0] / d a = 2*a", "d y[i] / d a = x[i]    for i in 1..2", "d y[i] / d x[i] = a    for i in 1..2"]


def test_target_is_not_called_like_an_input():
    scope = make_scope({"x": (2,), "y": (2,)})
    plan = plan_jacobian("x*y", scope, 1, np.dtype(np.float64))
    assert render_symbolic(plan, scope=scope) == "d f[i] / d x[i] = y[i]    for i in 0..1"


def test_unconnected_and_all_zero():
    assert show("r*2", None, columns=["r", "theta"], wrt="theta") == ["None (the target does not reference theta)"]
    assert show("x*0") == ["all entries are 0"]
    assert show("x - x") == ["all entries are 0"]
    assert show("x**4", order=5) == ["all entries are 0"]
    assert show("x*x - x*x[::-1]", (3,))[2:] == ["d y[2] / d x[0] = -x[2]", "d y[2] / d x[2] = -x[0] + 2*x[2]"]


def test_line_cap_counts_the_entries_left():
    lines = show("x*x[::-1]", (1001,), max_lines=5)
    assert lines[4:] == ["d y[2] / d x[2] = x[998]", "... 1996 more entries"]
    default = show("x*x[::-1]", (501,))
    assert len(default) == 201 and default[-1] == "... 801 more entries"
    assert show("x*x[::-1]", (501,)) == default  # deterministic
    assert len(show("x*x[::-1]", (501,), max_lines=None)) == 1001


def test_layout_names_every_axis():
    assert render_layout(plan_from_shape("x*x*x", (2,), 2)).splitlines() == [
        "axis 0  batch     size B  examples, never mixed",
        "axis 1  target.0  size 2  y[0..1]",
        "axis 2  x.0:d1    size 2  d/dx[0..1]",
        "axis 3  x.0:d2    size 2  d/dx[0..1]",
    ]
    assert render_layout(plan_from_shape("sum(x)", (2, 3), 1)).splitlines()[1:] == [
        "axis 1  x.0:d1  size 2  d/dx[0..1,:]",
        "axis 2  x.1:d1  size 3  d/dx[:,0..2]",
    ]


def test_usage_errors():
    assert parse_shape("2,3") == (2, 3) and parse_shape("()") == () and parse_shape("4") == (4,)
    with pytest.raises(UsageError):
        parse_shape("2,x")
    with pytest.raises(UsageError):
        plan_from_shape("r", (3,), columns=["r", "theta"])
    with pytest.raises(UsageError):
        render_symbolic(plan_from_shape("x", (2,), 1), "tex")
    with pytest.raises(UsageError, match="column name"):  # --columns are checked like a CSV header
        plan_from_shape("r", None, columns=["r", "r"])
    # a name that is not an identifier still labels its column; the expression reaches it as x[1]
    assert plan_from_shape("r * x[1]", None, columns=["r", "Sepal.Width"]).tape.target.shape == ()


# --- oracle: the printed formulas are the engine's numbers -----------------------------------------------------
def rebuild(text: str, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Run the python form (a NumPy function of one example) on ``x``: the per-example tensor."""
    namespace: dict = {}
    exec(compile(text, "<python form>", "exec"), namespace)  # noqa: S102 - jaccli's own output
    out = namespace["derivative"](x)
    assert out.shape == shape
    return out


@pytest.mark.parametrize("expression, shape, order", [
    ("x*x*x", (3,), 1), ("x*x*x", (3,), 2), ("x*x[::-1]", (3,), 1), ("x*x[::-1]", (4,), 2), ("x[1:]*x[:-1]", (4,), 1),
    ("sin(x)*exp(-x**2)", (3,), 2), ("[x*x, x]", (3,), 1), ("sum(x**2)", (3,), 1), ("x*x - x*x[::-1]", (3,), 1),
    ("x[0]*x", (3,), 2), ("sigmoid(x)*tanh(x[::-1])", (3,), 2), ("norm(x)", (3,), 2), ("logsumexp(x)", (3,), 1),
    ("prod(x)", (3,), 2), ("x*x*x", (2, 3), 2), ("x[0]*x", (2, 3), 1), ("mean(x*x)", (2, 2), 2),
    ("x[:, 0] * x[:, 1]", (3, 2), 2), ("dot(x, x[::-1])", (4,), 2), ("sum(x)**2", (3,), 2),
])
def test_printed_formulas_rebuild_the_engine_result(expression, shape, order):
    x = np.random.default_rng(7).uniform(0.5, 1.5, size=shape)
    expected = batch_jacobian(expression, x[None], order)[0]
    text = render_symbolic(plan_from_shape(expression, shape, order), "python", max_lines=None)
    got = rebuild(text, x, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
